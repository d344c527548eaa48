'use strict';
require('http')
  .get({ host: '127.0.0.1', port: process.env.PORT || 3000, path: '/healthz', timeout: 2000 }, (res) =>
    process.exit(res.statusCode === 200 ? 0 : 1))
  .on('error', () => process.exit(1));
