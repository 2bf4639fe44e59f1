/** Writes and removes one folder of processed variants in the processed container. */
import type { ContainerClient } from '@azure/storage-blob';
import { outputFolderPointerName } from '../core/definitions';
import type { EncodedVariant } from '../core/image-pipeline';
import type { ManifestOutput } from '../core/manifest';
import { isStatus } from './storage-errors';

const ignoreMissing = (error: unknown) => {
  if (!isStatus(error, 404)) throw error;
};

/** The folder's pointer first, so no folder exists that the sweep cannot attribute. */
export async function writeOutputs(
  processed: ContainerClient,
  uploadId: string,
  folder: string,
  variants: readonly EncodedVariant[],
): Promise<ManifestOutput[]> {
  await processed.getBlockBlobClient(outputFolderPointerName(uploadId, folder)).upload('', 0);
  return Promise.all(
    variants.map(async (variant) => {
      const blobName = `${folder}/${variant.name}.${variant.extension}`;
      await processed.getBlockBlobClient(blobName).uploadData(variant.data, {
        blobHTTPHeaders: {
          blobContentType: variant.contentType,
          // Each folder is written once for one version and variant set, so outputs never change.
          blobCacheControl: 'private, max-age=31536000, immutable',
        },
      });
      const { name, width, height, contentType } = variant;
      return { name, blobName, width, height, contentType, size: variant.data.length };
    }),
  );
}

/** Deletes every blob in the folder, then its pointer; already gone is fine. */
export async function deleteOutputs(
  processed: ContainerClient,
  uploadId: string,
  folder: string,
): Promise<void> {
  for await (const blob of processed.listBlobsFlat({ prefix: `${folder}/` }))
    await processed.deleteBlob(blob.name).catch(ignoreMissing);
  await processed.deleteBlob(outputFolderPointerName(uploadId, folder)).catch(ignoreMissing);
}
