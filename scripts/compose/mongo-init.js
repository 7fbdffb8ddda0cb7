// MongoDB app user for docker-compose.yaml; run once by the mongo image when its volume is first
// initialised (/docker-entrypoint-initdb.d), as the root user from MONGO_ROOT_USER/_PASSWORD.
// The scheduler and TradingAgents-CN connect as this user (authSource=admin). readWriteAnyDatabase,
// not readWrite on one database: the backup job proves each backup by restoring it into a scratch
// database (<db>_verify_<stamp>) and drops it afterwards.
db.getSiblingDB("admin").createUser({
  user: process.env.MONGO_APP_USER,
  pwd: process.env.MONGO_APP_PASSWORD,
  roles: [{ role: "readWriteAnyDatabase", db: "admin" }],
});
