export {
  GREETING,
  greetingIn,
  HELLO_META_KEY,
  type HelloMeta,
  type HelloMiddleware,
  type HelloOptions,
  hello,
  helloOf,
} from './hello.js';
