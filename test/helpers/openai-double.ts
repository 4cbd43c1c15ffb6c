// The OpenAI-compatible double now ships with the testing kit; tests keep importing it from here.
export * from '../../mesh/testing/openai-double.js';
