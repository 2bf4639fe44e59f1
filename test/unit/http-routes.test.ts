import { expect } from 'chai';
import { RouteTemplateError, compileRoute } from '../../local/http-routes';

describe('http-routes', () => {
  it('matches literal routes case-insensitively, with or without a trailing slash', () => {
    const route = compileRoute('uploads');
    expect(route.match('uploads')).to.deep.equal({});
    expect(route.match('/Uploads/')).to.deep.equal({});
    expect(route.match('uploads/x')).to.equal(undefined);
    expect(route.match('upload')).to.equal(undefined);
  });

  it('captures parameters, percent-decoded, keeping their case', () => {
    const route = compileRoute('uploads/{uploadId}');
    expect(route.match('uploads/AbC-1')).to.deep.equal({ uploadId: 'AbC-1' });
    expect(route.match('uploads/a%20b')).to.deep.equal({ uploadId: 'a b' });
    expect(route.match('uploads')).to.equal(undefined);
    expect(route.match('uploads/a/b')).to.equal(undefined);
    expect(route.match('uploads/%E0%A4%A')).to.equal(undefined);
  });

  it('supports an optional last parameter', () => {
    const route = compileRoute('items/{id?}');
    expect(route.match('items')).to.deep.equal({});
    expect(route.match('items/7')).to.deep.equal({ id: '7' });
  });

  it('supports a catch-all last parameter', () => {
    const route = compileRoute('files/{*path}');
    expect(route.match('files/a/b/c.txt')).to.deep.equal({ path: 'a/b/c.txt' });
    expect(route.match('files')).to.deep.equal({});
  });

  it('refuses templates it cannot emulate faithfully', () => {
    expect(() => compileRoute('items/{id:int}')).to.throw(RouteTemplateError);
    expect(() => compileRoute('items/{id?}/more')).to.throw(RouteTemplateError);
    expect(() => compileRoute('items/x{id}')).to.throw(RouteTemplateError);
  });
});
