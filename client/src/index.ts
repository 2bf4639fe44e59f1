/**
 * `@directdrop/client` for browsers and other runtimes without Node's file system:
 * one PUT per file over XMLHttpRequest (fetch where there is none), no storage SDK.
 * Node resolves the same import to `node.ts`, which adds files by path and streaming.
 */
export * from './upload.js';
