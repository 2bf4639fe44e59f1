import { expect } from 'chai';
import { busyMsFor, fitBusyModel, proxyBurstCost } from '../../bench/proxy-cost';

const MIB = 1024 * 1024;

describe('proxy-cost (the spike’s bill through the proxy design)', () => {
  it('fits busy time to size by least squares', () => {
    const model = fitBusyModel([
      { bytes: 1 * MIB, busyMs: 15 },
      { bytes: 2 * MIB, busyMs: 25 },
      { bytes: 4 * MIB, busyMs: 45 },
    ]);
    expect(model.fixedMs).to.be.closeTo(5, 1e-9);
    expect(model.perMibMs).to.be.closeTo(10, 1e-9);
    expect(busyMsFor(model, 3 * MIB)).to.be.closeTo(35, 1e-9);
  });

  it('goes through the origin for one size, or when the intercept would be negative', () => {
    expect(
      fitBusyModel([
        { bytes: 2 * MIB, busyMs: 10 },
        { bytes: 2 * MIB, busyMs: 30 },
      ]),
    ).to.deep.equal({ fixedMs: 0, perMibMs: 10 });
    const model = fitBusyModel([
      { bytes: 1 * MIB, busyMs: 5 },
      { bytes: 3 * MIB, busyMs: 35 },
    ]);
    expect(model.fixedMs).to.equal(0);
    expect(model.perMibMs).to.be.closeTo(10, 1e-9);
    expect(() => fitBusyModel([])).to.throw('no proxy samples');
  });

  it('counts the most executions overlapping, and GB-s at the memory given', () => {
    const model = { fixedMs: 0, perMibMs: 100 };
    const cost = proxyBurstCost(
      [
        { startMs: 0, bytes: 10 * MIB }, // busy 0–1,000 ms
        { startMs: 500, bytes: 10 * MIB }, // 500–1,500
        { startMs: 900, bytes: 1 * MIB }, // 900–1,000
        { startMs: 1000, bytes: 5 * MIB }, // 1,000–1,500: starts as two end
      ],
      model,
      2048,
    );
    expect(cost.peakConcurrent).to.equal(3);
    expect(cost.busySeconds).to.be.closeTo(2.6, 1e-9);
    expect(cost.gbSeconds).to.be.closeTo(5.2, 1e-9);
    expect(proxyBurstCost([], model, 512)).to.deep.equal({
      peakConcurrent: 0,
      busySeconds: 0,
      gbSeconds: 0,
    });
  });
});
