// Preloaded with `node -r ./loopback.js`: Cube 0.33 has no listen-address option and binds
// every interface. Force every TCP listener of this process onto 127.0.0.1.
'use strict';
const net = require('net');

const LOOPBACK = '127.0.0.1';
const originalListen = net.Server.prototype.listen;

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0];
  if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
    // listen({ port, host, ... }); unix-socket paths and inherited handles stay untouched.
    if ('port' in first && first.path === undefined) {
      args[0] = { ...first, host: LOOPBACK };
    }
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, cb]): replace or insert the host.
    if (typeof args[1] === 'string') {
      args[1] = LOOPBACK;
    } else {
      args.splice(1, 0, LOOPBACK);
    }
  } else if (first === undefined || typeof first === 'function') {
    // listen() / listen(cb): a random port on every interface by default.
    args.unshift(0, LOOPBACK);
  }
  return originalListen.apply(this, args);
};
