/** The library's shared entry: index.ts (browsers) and node.ts re-export it. */
export * from './api.js';
