/**
 * `<UploadDropzone>`: a button that opens the file picker (drag and drop is an extra), the
 * server's limits, and one line per file with progress, cancel, the outcome in words and
 * the thumbnail. Unstyled: it renders plain elements with the class names in the README.
 */
import { type CSSProperties, type DragEvent, useId, useRef, useState } from 'react';
import type { ProcessedOutput, UploadLimits } from '@directdrop/client';
import { describeLimits, useLimits } from './limits.js';
import { describeUpload, uploadPhase } from './messages.js';
import { type UploadEntry, type UseUploadManyOptions, useUploadMany } from './use-upload-many.js';

export interface UploadDropzoneProps extends Omit<UseUploadManyOptions, 'limits'> {
  /** The server's rules when already known (e.g. read while rendering on the server); otherwise `GET /limits`. */
  limits?: UploadLimits;
  /** The button's text, also the file input's label. Default `Choose photos`. */
  label?: string;
  /** Several files at once (default), or one. */
  multiple?: boolean;
  /** Added to the root element's class. */
  className?: string;
}

/** Out of sight but read by screen readers: the live regions are for them only. */
const VISUALLY_HIDDEN: CSSProperties = {
  position: 'absolute',
  width: 1,
  height: 1,
  margin: -1,
  padding: 0,
  border: 0,
  overflow: 'hidden',
  clipPath: 'inset(50%)',
  whiteSpace: 'nowrap',
};

const ERROR_PHASES = new Set(['refused', 'rejected', 'failed']);

function thumbnailOf(outputs: readonly ProcessedOutput[]): ProcessedOutput | undefined {
  return (
    outputs.find((o) => o.name === 'thumb') ?? [...outputs].sort((a, b) => a.width - b.width)[0]
  );
}

export function UploadDropzone(props: UploadDropzoneProps) {
  const {
    limits: knownLimits,
    label = 'Choose photos',
    multiple = true,
    className,
    ...options
  } = props;
  const { limits, error: limitsError } = useLimits(options, knownLimits);
  const { uploads, add, cancel } = useUploadMany({ ...options, ...(limits ? { limits } : {}) });
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const limitsId = `${useId()}-limits`;

  const addFiles = (files: FileList | null) => {
    if (!files || files.length === 0) return;
    add(multiple ? Array.from(files) : [files[0]]);
  };
  const carriesFiles = (event: DragEvent) => event.dataTransfer.types.includes('Files');
  const onDragOver = (event: DragEvent<HTMLDivElement>) => {
    if (!carriesFiles(event)) return;
    // Without this the browser opens the dropped file instead of handing it over.
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    setDragging(true);
  };
  const onDragLeave = (event: DragEvent<HTMLDivElement>) => {
    if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
  };
  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    setDragging(false);
    addFiles(event.dataTransfer.files);
  };

  const describe = (entry: UploadEntry) =>
    describeUpload(entry, { fileName: entry.fileName, size: entry.size, limits });
  const limitsText = limits
    ? describeLimits(limits)
    : limitsError
      ? 'The upload rules could not be read; each file is still checked.'
      : 'Reading the upload rules…';
  const rootClass = ['directdrop-dropzone', dragging && 'directdrop-dropzone--dragging', className]
    .filter(Boolean)
    .join(' ');

  return (
    <div className={rootClass} onDragOver={onDragOver} onDragLeave={onDragLeave} onDrop={onDrop}>
      <button
        type="button"
        className="directdrop-dropzone__button"
        aria-describedby={limitsId}
        onClick={() => input.current?.click()}
      >
        {label}
      </button>
      <span className="directdrop-dropzone__drop-hint">
        {' '}
        or drop {multiple ? 'them' : 'it'} here
      </span>
      {/* The button is the control people reach; the input only holds the picker. */}
      <input
        ref={input}
        type="file"
        className="directdrop-dropzone__input"
        aria-label={label}
        hidden
        tabIndex={-1}
        multiple={multiple}
        accept={limits?.allowedContentTypes.join(',')}
        onChange={(event) => {
          addFiles(event.currentTarget.files);
          event.currentTarget.value = ''; // the same file chosen again uploads again
        }}
      />
      <p id={limitsId} className="directdrop-dropzone__limits">
        {limitsText}
      </p>
      {uploads.length > 0 && (
        <ul className="directdrop-dropzone__list">
          {uploads.map((entry) => {
            const phase = uploadPhase(entry);
            const percent = entry.state === 'processed' ? 100 : (entry.progress?.percent ?? 0);
            const thumbnail = entry.result && thumbnailOf(entry.result.outputs);
            const active = entry.state === 'queued' || entry.state === 'running';
            return (
              <li key={entry.id} className="directdrop-dropzone__item" data-state={phase}>
                <span className="directdrop-dropzone__name">{entry.fileName}</span>
                <progress
                  className="directdrop-dropzone__progress"
                  max={100}
                  value={percent}
                  aria-label={`${entry.fileName} upload progress`}
                />
                <p className="directdrop-dropzone__status">
                  {describe(entry)}
                  {phase === 'uploading' && entry.stage === 'uploading' && ` ${percent} %`}
                </p>
                {active && (
                  <button
                    type="button"
                    className="directdrop-dropzone__cancel"
                    aria-label={`Cancel upload of ${entry.fileName}`}
                    onClick={() => cancel(entry.id)}
                  >
                    Cancel
                  </button>
                )}
                {thumbnail && (
                  <img
                    className="directdrop-dropzone__thumbnail"
                    src={thumbnail.url}
                    alt={`Thumbnail of ${entry.fileName}`}
                    width={thumbnail.width}
                    height={thumbnail.height}
                  />
                )}
              </li>
            );
          })}
        </ul>
      )}
      {/* Always rendered, so screen readers hear each change: stages politely, errors at once. */}
      <div className="directdrop-dropzone__announcements" style={VISUALLY_HIDDEN}>
        <div aria-live="polite">
          {uploads
            .filter((entry) => !ERROR_PHASES.has(uploadPhase(entry)))
            .map((entry) => (
              <p key={entry.id}>{`${entry.fileName}: ${describe(entry)}`}</p>
            ))}
        </div>
        <div role="alert">
          {uploads
            .filter((entry) => ERROR_PHASES.has(uploadPhase(entry)))
            .map((entry) => (
              <p key={entry.id}>{`${entry.fileName}: ${describe(entry)}`}</p>
            ))}
        </div>
      </div>
    </div>
  );
}
