/**
 * `@directdrop/react` rendered on the server: `renderToString` in Node with no DOM, as
 * Next.js, Remix or any SSR framework would, before any effect runs.
 */
import { expect } from 'chai';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { UploadDropzone, describeUpload, useLimits, useUpload } from '../../react/src/index';

const LIMITS = {
  maxBytes: 25 * 1024 * 1024,
  allowedContentTypes: ['image/jpeg', 'image/png', 'image/webp'],
  maxFileNameLength: 200,
  maxInputPixels: 50_000_000,
  variants: [{ name: 'thumb', width: 320, format: 'webp' }],
  uploadUrlTtlSeconds: 600,
  readUrlTtlSeconds: 900,
};

describe('@directdrop/react on the server (renderToString, no DOM)', function () {
  it('runs where there is no window or document', function () {
    expect(typeof window).to.equal('undefined');
    expect(typeof document).to.equal('undefined');
  });

  it('renders the dropzone: a real button described by the limits line, a labelled input, live regions', function () {
    const html = renderToString(createElement(UploadDropzone, { apiBaseUrl: '/api' }));
    const describedBy =
      /<button type="button" class="directdrop-dropzone__button" aria-describedby="([^"]+)">Choose photos<\/button>/.exec(
        html,
      )?.[1];
    expect(describedBy, html).to.be.a('string');
    expect(html).to.contain(
      `<p id="${describedBy}" class="directdrop-dropzone__limits">Reading the upload rules…</p>`,
    );
    expect(html).to.match(
      /<input type="file" class="directdrop-dropzone__input" aria-label="Choose photos" hidden="" tabindex="-1" multiple=""/,
    );
    expect(html).to.contain('<div aria-live="polite"></div><div role="alert"></div>');
    expect(html, 'no upload list before any file').to.not.contain('directdrop-dropzone__list');
  });

  it('states limits known on the server without a request, and sets the picker’s accept', function () {
    const html = renderToString(
      createElement(UploadDropzone, { apiBaseUrl: '/api', limits: LIMITS, label: 'Add photos' }),
    );
    expect(html).to.contain('>JPEG, PNG or WebP, up to 25.0 MiB each.</p>');
    expect(html).to.contain('accept="image/jpeg,image/png,image/webp"');
    expect(html).to.contain('>Add photos</button>');
  });

  it('renders components built on the hooks in their first state', function () {
    function Avatar() {
      const upload = useUpload({ apiBaseUrl: '/api' });
      const { limits } = useLimits({ apiBaseUrl: '/api' });
      return createElement(
        'p',
        { 'data-state': upload.state, 'data-limits': limits ? 'known' : 'unknown' },
        describeUpload(upload, { fileName: 'me.jpg' }) || 'No photo yet.',
      );
    }
    expect(renderToString(createElement(Avatar))).to.equal(
      '<p data-state="idle" data-limits="unknown">No photo yet.</p>',
    );
  });
});
