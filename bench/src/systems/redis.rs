//! The budget ledger on Redis: each call is one `EVALSHA` of a Lua script,
//! which Redis runs atomically, so the check and the change can never
//! interleave with another client's.
//!
//! This is the upper reference, not a competitor: one server, nothing
//! replicated and nothing written to disk (the server runs with `--save ''
//! --appendonly no`), so an acknowledged reservation dies with the process.

use anyhow::Context;
use redis::aio::MultiplexedConnection;
use redis::Script;

use super::{Balance, BudgetLedger, Reservation};

/// KEYS: pool hash. ARGV: capacity. Creates the pool once; the same
/// capacity again changes nothing, another one is an error.
const OPEN: &str = r"
if redis.call('HSETNX', KEYS[1], 'capacity', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'reserved', 0, 'spent', 0)
  return 1
end
if redis.call('HGET', KEYS[1], 'capacity') ~= ARGV[1] then
  return redis.error_reply('pool exists with another capacity')
end
return 0
";

/// KEYS: pool hash, reservation. ARGV: amount. 1 reserved, 0 no room.
const RESERVE: &str = r"
local pool = redis.call('HMGET', KEYS[1], 'capacity', 'reserved', 'spent')
if not pool[1] then return redis.error_reply('no pool') end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return redis.error_reply('reservation exists')
end
local amount = tonumber(ARGV[1])
if tonumber(pool[2]) + tonumber(pool[3]) + amount > tonumber(pool[1]) then
  return 0
end
redis.call('HINCRBY', KEYS[1], 'reserved', amount)
redis.call('SET', KEYS[2], amount)
return 1
";

/// KEYS: pool hash, reservation. ARGV: used. Returns the tokens charged.
const SETTLE: &str = r"
local amount = tonumber(redis.call('GET', KEYS[2]))
if not amount then return redis.error_reply('unknown reservation') end
local used = math.min(tonumber(ARGV[1]), amount)
redis.call('HINCRBY', KEYS[1], 'reserved', -amount)
redis.call('HINCRBY', KEYS[1], 'spent', used)
redis.call('DEL', KEYS[2])
return used
";

/// One client of the Redis ledger.
pub struct RedisLedger {
    /// Where new handles connect.
    client: redis::Client,
    /// This handle's connection.
    connection: MultiplexedConnection,
    open: Script,
    reserve: Script,
    settle: Script,
}

impl RedisLedger {
    /// Connects to the server at `url` (`redis://HOST:PORT`).
    pub async fn connect_to(url: &str) -> anyhow::Result<RedisLedger> {
        let client = redis::Client::open(url).with_context(|| format!("bad Redis URL {url}"))?;
        let connection = client
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("connecting to Redis at {url}"))?;
        Ok(RedisLedger {
            client,
            connection,
            open: Script::new(OPEN),
            reserve: Script::new(RESERVE),
            settle: Script::new(SETTLE),
        })
    }
}

impl BudgetLedger for RedisLedger {
    async fn connect(&self) -> anyhow::Result<Self> {
        let connection = self.client.get_multiplexed_async_connection().await?;
        Ok(RedisLedger {
            client: self.client.clone(),
            connection,
            open: self.open.clone(),
            reserve: self.reserve.clone(),
            settle: self.settle.clone(),
        })
    }

    async fn open(&mut self, pools: &[String], capacity: u64) -> anyhow::Result<()> {
        for pool in pools {
            let _: i64 = self
                .open
                .key(pool_key(pool))
                .arg(capacity)
                .invoke_async(&mut self.connection)
                .await
                .with_context(|| format!("opening pool {pool}"))?;
        }
        Ok(())
    }

    async fn reserve(&mut self, pool: &str, id: &str, amount: u64) -> anyhow::Result<Reservation> {
        let granted: i64 = self
            .reserve
            .key(pool_key(pool))
            .key(reservation_key(pool, id))
            .arg(amount)
            .invoke_async(&mut self.connection)
            .await?;
        Ok(match granted {
            1 => Reservation::Reserved,
            _ => Reservation::Refused,
        })
    }

    async fn settle(&mut self, pool: &str, id: &str, used: u64) -> anyhow::Result<()> {
        let _charged: i64 = self
            .settle
            .key(pool_key(pool))
            .key(reservation_key(pool, id))
            .arg(used)
            .invoke_async(&mut self.connection)
            .await?;
        Ok(())
    }

    async fn balance(&mut self, pool: &str) -> anyhow::Result<Balance> {
        let figures: Vec<Option<u64>> = redis::cmd("HMGET")
            .arg(pool_key(pool))
            .arg(&["capacity", "reserved", "spent"])
            .query_async(&mut self.connection)
            .await?;
        let [Some(capacity), Some(reserved), Some(spent)] = figures[..] else {
            anyhow::bail!("pool {pool} is missing or incomplete: {figures:?}");
        };
        Ok(Balance {
            capacity,
            reserved,
            spent,
        })
    }
}

fn pool_key(pool: &str) -> String {
    format!("ledger:pool:{pool}")
}

fn reservation_key(pool: &str, id: &str) -> String {
    format!("ledger:reservation:{pool}:{id}")
}
