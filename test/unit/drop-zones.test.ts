import { expect } from 'chai';
import {
  dropZoneOfContainer,
  dropZoneOwner,
  dropZoneUploadId,
} from '../../functions/core/drop-zones';
import { isUploadId } from '../../functions/core/upload-request';

describe('drop zones', () => {
  const zones = [{ name: 'cameras', retentionDays: 7, maxSasHours: 24 }];

  it('gives each zone blob a stable id the status code accepts as an upload id', () => {
    const id = dropZoneUploadId('cameras', 'cam-1/a.jpg');
    expect(isUploadId(id)).to.equal(true);
    expect(dropZoneUploadId('cameras', 'cam-1/a.jpg')).to.equal(id);
    expect(dropZoneUploadId('cameras', 'cam-1/b.jpg')).not.to.equal(id);
    expect(dropZoneUploadId('doorbells', 'cam-1/a.jpg')).not.to.equal(id);
    for (let i = 0; i < 200; i++) expect(isUploadId(dropZoneUploadId('z', `n${i}`))).to.equal(true);
  });

  it('knows its containers and owns its uploads as the zone, never as a person', () => {
    expect(dropZoneOfContainer('dropzone-cameras', zones)).to.equal(zones[0]);
    expect(dropZoneOfContainer('uploads', zones)).to.equal(undefined);
    expect(dropZoneOwner('k'.repeat(32), 'cameras')).to.match(/^[0-9a-f]{32}$/);
    expect(dropZoneOwner('k'.repeat(32), 'cameras')).not.to.equal(
      dropZoneOwner('k'.repeat(32), 'doorbells'),
    );
  });
});
