#!/usr/bin/env bash
# Seeds a Parlor database for the benchmark, straight into SQLite (no HTTP, no Rust code).
#
#   benches/seed.sh PARLOR_BINARY DB_FILE MESSAGES OUT_DIR
#
# Shape of the data (one tenant, "Bench Clinic"):
#   - user 1, "the big user": a provider who is a participant of every conversation
#     (CONVERSATIONS, default 100,000);
#   - users 2..PATIENTS+1 (default 10,000 patients): conversation c is between the big user and
#     patient 2 + (c-1) % PATIENTS, so every patient is in CONVERSATIONS/PATIENTS (10) of them.
#     User 2 is "the typical user";
#   - MESSAGES messages dealt round-robin over the conversations: message k (0-based) goes to
#     conversation 1 + k % CONVERSATIONS with seq 1 + k / CONVERSATIONS, sent by the patient on
#     odd seqs and by the big user on even ones, one second apart. At 10k messages, 10% of the
#     conversations have one message and the rest none; at 1M each has ten.
#   - read state: each participant has read up to last_seq minus 0..2 (varies by conversation),
#     and unread_count is recounted from the messages, so `parlor check` finds no drift;
#   - bearer tokens (abilities ["*"], SHA-256 stored) for the big user and for SENDERS patients;
#   - what each vendor face needs to authenticate (benches/README.md, "The faces"): the clinic's
#     public key (Pigeons), an owner (Respondent's API owner), an API key and secret (MDLIVE's
#     token calls, Respondent), a subscriber id on every patient (MDLIVE single sign-on); and a
#     second tenant, "Bench Workspace", for the faces that list a whole tenant with every message
#     (Trillet) or a patient's threads with the tenant's assistant (Tati): its workspace id and
#     API key, an owner, an assistant and one patient whose TYPICAL (CONVERSATIONS/PATIENTS)
#     conversations with the assistant mirror the typical user's message for message.
#
# Nothing is dropped from the schema: the server itself creates the file (`parlor init`), then
# rows are bulk-inserted in one transaction with synchronous=OFF and a large page cache.
#
# Writes into OUT_DIR: tokens.tsv (user_id<TAB>token), send_pairs.txt ("token conversation_id"
# per line, for wrk's send script), big.token, typical.token, faces.env (shell assignments of the
# faces' credentials), seed.log.
set -euo pipefail

PARLOR=${1:?parlor binary}
DB=${2:?database file}
MESSAGES=${3:?number of messages}
OUT=${4:?output directory}
CONVERSATIONS=${CONVERSATIONS:-100000}
PATIENTS=${PATIENTS:-10000}
SENDERS=${SENDERS:-2000}
# Tokens are deterministic so that a cached seed and its token files always agree.
SALT=5f0c1e9a7b3d42e68a1c9f04d2b7e3a1

command -v sqlite3 >/dev/null || { echo "seed.sh: sqlite3 not found" >&2; exit 2; }
(( SENDERS <= PATIENTS )) || { echo "seed.sh: SENDERS must be <= PATIENTS" >&2; exit 2; }

mkdir -p "$OUT"
rm -f "$DB" "$DB-wal" "$DB-shm" "$DB-journal"

# The server creates the file and applies schema.sql (and makes a server-admin token we ignore).
RUST_LOG=warn "$PARLOR" --db "$DB" init --plain >/dev/null

TYPICAL=$(( CONVERSATIONS / PATIENTS ))                # conversations of each patient
# Users after the patients: the clinic's owner, then the workspace's owner, assistant, patient.
CLINIC_OWNER=$(( PATIENTS + 2 ))
WS_OWNER=$(( PATIENTS + 3 )) WS_ASSISTANT=$(( PATIENTS + 4 )) WS_PATIENT=$(( PATIENTS + 5 ))
PUBLIC_KEY=pk_bench_clinic
WORKSPACE_ID=65b0c0ffee00000000000b02
CLINIC_API_KEY=bench-clinic-key CLINIC_API_SECRET=bench-clinic-secret-$SALT
WS_API_KEY=bench-workspace-key WS_API_SECRET=bench-workspace-secret-$SALT
sha() { printf '%s' "$1" | sha256sum | cut -c1-64; }

now_ms=$(date +%s%3N)
step=1000                                           # ms between two seeded messages
t_msg0=$(( now_ms - (MESSAGES + 3600) * step ))     # the last seeded message is an hour old
t_created=$(( t_msg0 - 86400000 ))                  # users and conversations a day before

# --- tokens: user_id <TAB> plain token, and their SHA-256 in one sha256sum run -------------
tokdir=$(mktemp -d)
trap 'rm -rf "$tokdir"' EXIT
mkdir "$tokdir/plain"
: > "$OUT/tokens.tsv"
for uid in 1 $(seq 2 $(( SENDERS + 1 ))) "$WS_PATIENT"; do
    tok=$(printf 'plr_bench_%08d_%s' "$uid" "$SALT")
    printf '%s' "$tok" > "$tokdir/plain/$uid"
    printf '%s\t%s\n' "$uid" "$tok" >> "$OUT/tokens.tsv"
done
(cd "$tokdir/plain" && sha256sum -- *) | awk -v t="$t_created" -v ws="$WS_PATIENT" '
    BEGIN { print "INSERT INTO tokens (token_hash, tenant_id, user_id, abilities, label, created_at) VALUES" }
    { printf "%s(X'"'"'%s'"'"', %d, %d, '"'"'[\"*\"]'"'"', '"'"'bench'"'"', %d)", (NR > 1 ? ",\n" : ""), $1, ($2 == ws ? 2 : 1), $2, t }
    END { print ";" }' > "$tokdir/tokens.sql"

# --- everything else in one transaction ------------------------------------------------------
sqlite3 -bail "$DB" > "$OUT/seed.log" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1048576;
PRAGMA temp_store = MEMORY;
BEGIN;

INSERT INTO tenants (id, uuid, name, public_key, owner_id, created_at)
VALUES (1, '00000000-0000-4000-8000-00000000b001', 'Bench Clinic', '$PUBLIC_KEY', $CLINIC_OWNER,
        $t_created);
INSERT INTO tenants (id, uuid, name, workspace_id, owner_id, assistant_id, created_at)
VALUES (2, '00000000-0000-4000-8000-00000000b002', 'Bench Workspace', '$WORKSPACE_ID', $WS_OWNER,
        $WS_ASSISTANT, $t_created);
INSERT INTO api_keys (tenant_id, key, secret_hash, label, created_at)
VALUES (1, '$CLINIC_API_KEY', X'$(sha "$CLINIC_API_SECRET")', 'bench', $t_created),
       (2, '$WS_API_KEY', X'$(sha "$WS_API_SECRET")', 'bench', $t_created);

INSERT INTO users (id, uuid, oid, tenant_id, role, first_name, last_name, display_name, prefix,
                   specialty, created_at, updated_at)
VALUES (1, '00000000-0000-4000-8000-000000000001', printf('%08x%016x', $t_created / 1000, 1), 1,
        'provider', 'Bea', 'Busy', 'Dr. Bea Busy', 'Dr.', 'Family Medicine', $t_created, $t_created);

INSERT INTO users (id, uuid, oid, tenant_id, role, first_name, last_name, display_name,
                   external_id, created_at, updated_at)
SELECT value, printf('00000000-0000-4000-8000-%012x', value),
       printf('%08x%016x', $t_created / 1000, value), 1, 'patient',
       'Pat', 'Number ' || value, 'Pat Number ' || value, 'BENCH-SUB-' || value,
       $t_created, $t_created
FROM generate_series(2, $PATIENTS + 1);

INSERT INTO users (id, uuid, oid, tenant_id, role, first_name, last_name, display_name, phone,
                   created_at, updated_at)
SELECT column1, printf('00000000-0000-4000-8000-%012x', column1),
       printf('%08x%016x', $t_created / 1000, column1), column2, column3, column4, column5,
       column4 || ' ' || column5, column6, $t_created, $t_created
FROM (VALUES ($CLINIC_OWNER, 1, 'admin', 'Bench Clinic', 'Admin', NULL),
             ($WS_OWNER, 2, 'admin', 'Bench Workspace', 'Admin', NULL),
             ($WS_ASSISTANT, 2, 'assistant', 'Assistant', 'Bench', NULL),
             ($WS_PATIENT, 2, 'patient', 'Wanda', 'Workspace', '+15550100002'));

INSERT INTO conversations (id, uuid, oid, tenant_id, name, status, metadata, created_by,
                           created_at, updated_at)
SELECT value, printf('00000000-0000-4000-9000-%012x', value),
       printf('%08x%016x', $t_created / 1000, value), 1, 'Visit ' || value, 'active', '{}', 1,
       $t_created, $t_created
FROM generate_series(1, $CONVERSATIONS);

-- The workspace's conversations: the patient with the assistant, the j-th (from 0) mirroring the
-- typical user's j-th, conversation 1 + j * PATIENTS.
INSERT INTO conversations (id, uuid, oid, tenant_id, name, status, metadata, agent_id, customer_id,
                           created_by, created_at, updated_at)
SELECT value, printf('00000000-0000-4000-9000-%012x', value),
       printf('%08x%016x', $t_created / 1000, value), 2, 'Visit ' || value, 'active', '{}',
       $WS_ASSISTANT, $WS_PATIENT, $WS_ASSISTANT, $t_created, $t_created
FROM generate_series($CONVERSATIONS + 1, $CONVERSATIONS + $TYPICAL);

INSERT INTO messages (id, uuid, oid, tenant_id, conversation_id, seq, sender_id, body, kind,
                      metadata, attachments, created_at, updated_at)
SELECT value + 1,
       printf('00000000-0000-4000-a000-%012x', value + 1),
       printf('%08x%016x', ($t_msg0 + value * $step) / 1000, value + 1),
       1,
       1 + value % $CONVERSATIONS,
       1 + value / $CONVERSATIONS,
       CASE WHEN (value / $CONVERSATIONS) % 2 = 0 THEN 2 + (value % $CONVERSATIONS) % $PATIENTS ELSE 1 END,
       'Seeded message ' || (value + 1) || ': see you at the clinic on Tuesday morning.',
       'text', '{}', '[]',
       $t_msg0 + value * $step, $t_msg0 + value * $step
FROM generate_series(0, $MESSAGES - 1);

-- The workspace's messages: a copy of those of the typical user's conversations.
INSERT INTO messages (id, uuid, oid, tenant_id, conversation_id, seq, sender_id, body, kind,
                      metadata, attachments, created_at, updated_at)
SELECT n, printf('00000000-0000-4000-a000-%012x', n), printf('%08x%016x', at / 1000, n), 2,
       conv, seq, sender, body, 'text', '{}', '[]', at, at
FROM (SELECT $MESSAGES + row_number() OVER (ORDER BY m.id) AS n,
             $CONVERSATIONS + 1 + (m.conversation_id - 1) / $PATIENTS AS conv, m.seq,
             CASE WHEN m.sender_id = 1 THEN $WS_ASSISTANT ELSE $WS_PATIENT END AS sender,
             m.body, m.created_at AS at
      FROM messages m
      WHERE m.conversation_id IN (SELECT 1 + value * $PATIENTS FROM generate_series(0, $TYPICAL - 1)));

-- The denormalized last message and counts, from the messages just inserted (bare columns of a
-- max() aggregate come from the row holding the max).
UPDATE conversations
SET last_seq = a.s, message_count = a.n, last_message_id = a.mid, last_message_text = a.body,
    last_message_at = a.at, last_sender_id = a.sender, updated_at = MAX(conversations.updated_at, a.at)
FROM (SELECT conversation_id AS cid, max(seq) AS s, count(*) AS n, id AS mid, body,
             created_at AS at, sender_id AS sender
      FROM messages GROUP BY conversation_id) AS a
WHERE conversations.id = a.cid;

-- Participants with their final sort key and horizon, then the exact unread counts.
INSERT INTO participants (conversation_id, user_id, joined_at, last_read_seq, last_read_at, sort_at)
SELECT c.id, 1, $t_created,
       MAX(0, c.last_seq - c.id % 3),
       CASE WHEN c.last_seq > 0 THEN c.last_message_at END,
       COALESCE(c.last_message_at, 0)
FROM conversations c WHERE c.tenant_id = 1;

INSERT INTO participants (conversation_id, user_id, joined_at, last_read_seq, last_read_at, sort_at)
SELECT c.id, 2 + (c.id - 1) % $PATIENTS, $t_created,
       MAX(0, c.last_seq - (c.id + 1) % 3),
       CASE WHEN c.last_seq > 0 THEN c.last_message_at END,
       COALESCE(c.last_message_at, 0)
FROM conversations c WHERE c.tenant_id = 1;

-- The workspace's pivot rows read as far as those of the conversations they mirror (m).
INSERT INTO participants (conversation_id, user_id, joined_at, last_read_seq, last_read_at, sort_at)
SELECT c.id, who.column1, $t_created,
       MAX(0, c.last_seq - (1 + (c.id - $CONVERSATIONS - 1) * $PATIENTS + who.column2) % 3),
       CASE WHEN c.last_seq > 0 THEN c.last_message_at END,
       COALESCE(c.last_message_at, 0)
FROM conversations c, (VALUES ($WS_ASSISTANT, 0), ($WS_PATIENT, 1)) AS who
WHERE c.tenant_id = 2;

UPDATE participants
SET unread_count = (SELECT count(*) FROM messages m
                    WHERE m.conversation_id = participants.conversation_id
                      AND m.deleted_at IS NULL
                      AND m.sender_id <> participants.user_id
                      AND m.seq > participants.last_read_seq)
WHERE last_read_seq < (SELECT last_seq FROM conversations WHERE id = participants.conversation_id);

.read $tokdir/tokens.sql

-- The messages the insert trigger noted for search, indexed as the server's writer does before
-- each commit (store::message_search::index_pending): in one statement, one segment.
INSERT INTO message_search (rowid, body, scope)
SELECT s.id, s.body, s.scope
FROM message_search_pending p CROSS JOIN message_search_source s ON s.id = p.id ORDER BY p.id;
DELETE FROM message_search_pending;

COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SELECT 'seeded: ' || (SELECT count(*) FROM users) || ' users, '
       || (SELECT count(*) FROM conversations) || ' conversations, '
       || (SELECT count(*) FROM participants) || ' participants, '
       || (SELECT count(*) FROM messages) || ' messages, '
       || (SELECT sum(unread_count) FROM participants) || ' unread, '
       || (SELECT count(*) FROM tokens WHERE user_id IS NOT NULL) || ' user tokens';
SQL

# --- token files for the load generator -------------------------------------------------------
awk -F'\t' '$1 == 1 { print $2 }' "$OUT/tokens.tsv" > "$OUT/big.token"
awk -F'\t' '$1 == 2 { print $2 }' "$OUT/tokens.tsv" > "$OUT/typical.token"
# What run.sh needs to call each face (sourced; every value is plain text without quotes).
cat > "$OUT/faces.env" <<ENV
TYPICAL_USER=2
TYPICAL_SUBSCRIBER=BENCH-SUB-2
PUBLIC_KEY=$PUBLIC_KEY
CLINIC_API_KEY=$CLINIC_API_KEY
CLINIC_API_SECRET=$CLINIC_API_SECRET
WORKSPACE_ID=$WORKSPACE_ID
WS_API_SECRET=$WS_API_SECRET
WS_PATIENT_TOKEN=$(awk -F'\t' -v u="$WS_PATIENT" '$1 == u { print $2 }' "$OUT/tokens.tsv")
WS_CONVERSATIONS=$TYPICAL
ENV
# Every (sender token, conversation) pair a sender may post to, interleaved so that consecutive
# requests go to different users and conversations.
sqlite3 -separator ' ' "$DB" \
    "SELECT user_id, conversation_id FROM participants
     WHERE user_id BETWEEN 2 AND $(( SENDERS + 1 ))
     ORDER BY (conversation_id * 7919) % $CONVERSATIONS, conversation_id" |
    awk -F' ' 'NR == FNR { split($0, f, "\t"); tok[f[1]] = f[2]; next } { print tok[$1], $2 }' \
        "$OUT/tokens.tsv" - > "$OUT/send_pairs.txt"
grep "^seeded:" "$OUT/seed.log"
