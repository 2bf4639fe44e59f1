import { expect } from 'chai';
import { DirectdropError } from '../../client/src/node';

/** Awaits a promise that must reject with an instance of `type`, and returns that error. */
export async function rejection<E extends Error>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(type);
    return error as E;
  }
  throw new Error('expected a rejection');
}

/** Every client failure is a DirectdropError. */
export const clientRejection = (promise: Promise<unknown>) => rejection(promise, DirectdropError);
