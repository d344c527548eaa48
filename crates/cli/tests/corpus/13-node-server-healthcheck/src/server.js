'use strict';
const http = require('http');
const router = require('tiny-router');
const { version } = require('../package.json');

const handle = router({
  '/healthz': (req, res) => res.end('ok\n'),
  '/': (req, res) => res.end(`corpus-node-server ${version} (${process.env.NODE_ENV})\n`),
});

const server = http.createServer(handle);
const port = Number(process.env.PORT || 3000);

if (process.argv.includes('--once')) {
  // Serve one request to ourselves, print it, and exit: the corpus test's check.
  server.listen(0, '127.0.0.1', () => {
    http.get({ host: '127.0.0.1', port: server.address().port, path: '/' }, (res) => {
      res.pipe(process.stdout);
      res.on('end', () => server.close());
    });
  });
} else {
  server.listen(port, () => console.log(`listening on ${port}`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
