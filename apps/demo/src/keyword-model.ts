import type { FallbackModel, ModelRequest } from '@mcp-middleware/sampling-helpers';

const KEYWORDS: Record<string, readonly string[]> = {
  bug: ['crash', 'error', 'broken', 'fails', 'bug', 'exception', '500'],
  billing: ['invoice', 'charge', 'refund', 'billing', 'payment', 'card'],
  feature: ['would be nice', 'feature', 'add support', 'please add', 'request'],
  question: ['how do', 'how to', 'what is', 'where', '?'],
};

/**
 * The demo's server-side "model" for clients that cannot sample: a keyword classifier, so the demo runs offline.
 * In production pass a real model (any OpenAI-compatible API, or the Vercel AI SDK) with the same signature.
 */
export const keywordModel: FallbackModel = async (request: ModelRequest) => {
  // classify() sends the text as the user message and the labels in the system prompt.
  const text = request.messages
    .map((m) => m.content)
    .join('\n')
    .toLowerCase();
  for (const [label, words] of Object.entries(KEYWORDS)) {
    if (words.some((w) => text.includes(w))) return label;
  }
  return 'question';
};
