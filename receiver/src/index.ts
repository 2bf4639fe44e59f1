/**
 * `@directdrop/receiver`: receive directdrop's upload outcome events in your backend. One
 * concern per module, as the Azure SDK's packages are laid out; this entry only re-exports.
 */
export {
  createReceiver,
  type Receiver,
  type ReceiverOptions,
  type ReceiveResult,
} from './receiver.js';
export { parseQueueMessage } from './queue.js';
export { ReceiverError, type ReceiverErrorCode } from './errors.js';
export { DEFAULT_SECRET_HEADER, MIN_SECRET_LENGTH } from './secret.js';
export { EVENT_GRID_ORIGIN, type HandshakeOptions } from './handshake.js';
export { DEFAULT_MAX_BODY_BYTES, type DeliveryRequest } from './parse.js';
export type { EventOptions } from './validate.js';
export * from './events.js';
