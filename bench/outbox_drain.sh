#!/usr/bin/env bash
# Outbox drain: how fast queued notifications leave for a local SMTP server.
# Queues N staff notifications while the SMTP server is down (each mail fails once and goes
# dead with mail.max_attempts=1), starts Postfix's smtp-sink, requeues everything with
# `sealpost outbox retry --dead`, and times the drain until nothing is pending.
#
# usage: bench/outbox_drain.sh [N] [SMTP_CONNECTIONS]     (needs: postfix's smtp-sink, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
CONNS=${2:-4}
HTTP_PORT=${HTTP_PORT:-18080}
SMTP_PORT=${SMTP_PORT:-12525}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q
bin=target/release/sealpost
export SEALPOST__DATA_DIR="$work" SEALPOST_CONFIG_DIR="$work/none"
export SEALPOST__SERVER__LISTEN=127.0.0.1:$HTTP_PORT
export SEALPOST__RATE_LIMIT__ENABLED=false
export SEALPOST__MAIL__TRANSPORT=smtp SEALPOST__MAIL__SMTP__URL=smtp://127.0.0.1:$SMTP_PORT
export SEALPOST__MAIL__SMTP__MAX_CONNECTIONS=$CONNS SEALPOST__MAIL__BATCH_SIZE=256
export SEALPOST__MAIL__ACKNOWLEDGE_VISITOR=false SEALPOST__MAIL__MAX_ATTEMPTS=1
export RUST_LOG=warn

"$bin" serve >"$work/serve.log" 2>&1 &
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null && break; sleep 0.1; done
python3 bench/submit.py "http://127.0.0.1:$HTTP_PORT/api/v1/messages" "$N" 8
until "$bin" outbox status | grep -q '^pending  0' && "$bin" outbox status | grep -q '^sending  0'; do sleep 0.5; done
"$bin" outbox status | grep dead

smtp-sink -u nobody -c 127.0.0.1:$SMTP_PORT 1000 >/dev/null 2>&1 &
sleep 0.5
start=$(date +%s.%N)
"$bin" outbox retry --dead
until "$bin" outbox status | grep -q "^sent     $N"; do sleep 0.2; done
end=$(date +%s.%N)
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); print(f'drained {n} mails in {s:.2f} s = {n/s:.0f} mails/s over $CONNS SMTP connections')" "$start" "$end" "$N"
