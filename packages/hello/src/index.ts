export {
  HELLO,
  type HelloInfo,
  type HelloMiddleware,
  type HelloOptions,
  hello,
  helloOf,
} from './hello.js';
