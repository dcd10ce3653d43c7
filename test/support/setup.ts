import '../../infra/local/node-compat';
