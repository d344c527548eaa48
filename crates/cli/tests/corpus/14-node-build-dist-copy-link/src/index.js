const { add } = require('./lib/math');
const { banner } = require('./lib/banner.js');
console.log(banner(`2 + 40 = ${add(2, 40)}`));
