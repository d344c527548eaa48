exports.banner = (text) => `*** ${text} ***`;
