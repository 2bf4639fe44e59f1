// @directdrop/client's browser entry: limits from the server, one task per file with
// progress, cancel, and a typed error. Bundle this file with any bundler.
import { formatBytes, getLimits, startUpload } from '@directdrop/client';

const apiBaseUrl = new URLSearchParams(location.search).get('api') ?? '/api';
const input = document.getElementById('file');
const results = document.getElementById('results');
const tasks = new Set();

document.getElementById('cancel').addEventListener('click', () => tasks.forEach((t) => t.cancel()));

input.addEventListener('change', () => {
  for (const file of input.files) {
    const item = document.createElement('li');
    const bar = Object.assign(document.createElement('progress'), { max: 100, value: 0 });
    const text = Object.assign(document.createElement('span'), { textContent: file.name });
    item.append(text, bar);
    results.append(item);

    const task = startUpload(file, { apiBaseUrl });
    tasks.add(task);
    task.onProgress((p) => {
      bar.value = p.percent;
      text.textContent = `${file.name}: ${p.stage}`;
    });
    task.result
      .then(
        (result) => {
          item.dataset.state = 'processed';
          text.textContent = `${file.name}: processed`;
          const thumb = result.outputs.find((o) => o.name === 'thumb') ?? result.outputs[0];
          item.append(
            Object.assign(document.createElement('img'), {
              src: thumb.url,
              alt: `${file.name} thumbnail`,
            }),
          );
        },
        (error) => {
          // error.code: 'rejected' (see error.reason), 'aborted', 'file-too-large', 'network-error', …
          item.dataset.state = error.code === 'rejected' ? 'rejected' : 'error';
          text.textContent = `${file.name}: ${error.code}: ${error.message}${error.retryable ? ' (try again)' : ''}`;
        },
      )
      .finally(() => tasks.delete(task));
  }
  input.value = '';
});

// The server's rules, for the page's text and the file picker; the upload checks them too.
getLimits({ apiBaseUrl }).then((limits) => {
  document.getElementById('limits').textContent =
    `Up to ${formatBytes(limits.maxBytes)}: ${limits.allowedContentTypes.join(', ')}.`;
  input.accept = limits.allowedContentTypes.join(',');
});
