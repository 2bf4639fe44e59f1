// @directdrop/react in a page: a gallery through <UploadDropzone>, and a profile photo
// through the useUpload() hook with markup of its own. Bundle with any bundler that
// compiles JSX (esbuild --jsx=automatic, Vite).
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { UploadDropzone, describeUpload, useUpload } from '@directdrop/react';

const apiBaseUrl = new URLSearchParams(location.search).get('api') ?? '/api';
// A bearer token for stacks with sign-in: local mode prints a link with #token=…
const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? undefined;

function Gallery() {
  const [processed, setProcessed] = useState(0);
  return (
    <section aria-labelledby="gallery-title">
      <h2 id="gallery-title">Gallery</h2>
      <UploadDropzone
        apiBaseUrl={apiBaseUrl}
        token={token}
        concurrency={3}
        onOutcome={(upload) => upload.state === 'processed' && setProcessed((n) => n + 1)}
      />
      <p id="gallery-count">{processed} processed</p>
    </section>
  );
}

function ProfilePhoto() {
  const upload = useUpload({ apiBaseUrl, token });
  const [fileName, setFileName] = useState('');
  const thumb = upload.result?.outputs.find((output) => output.name === 'thumb');
  return (
    <section aria-labelledby="profile-title" id="profile" data-state={upload.state}>
      <h2 id="profile-title">Profile photo</h2>
      <label>
        Choose a profile photo{' '}
        <input
          type="file"
          accept="image/*"
          onChange={(event) => {
            const file = event.currentTarget.files?.[0];
            if (!file) return;
            setFileName(file.name);
            upload.start(file);
            event.currentTarget.value = '';
          }}
        />
      </label>
      {upload.state === 'running' && (
        <>
          <progress
            max={100}
            value={upload.progress?.percent ?? 0}
            aria-label="Profile photo upload progress"
          />
          <button type="button" onClick={upload.cancel}>
            Cancel
          </button>
        </>
      )}
      <p role="status" data-stage={upload.stage}>
        {describeUpload(upload, { fileName })}
      </p>
      {thumb && (
        <img src={thumb.url} alt="Your profile photo" width={thumb.width} height={thumb.height} />
      )}
    </section>
  );
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <Gallery />
    <ProfilePhoto />
  </StrictMode>,
);
