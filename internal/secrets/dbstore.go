package secrets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/airgate/airgate/internal/sqlstore"
)

// DBSecrets is a [SecretStore] in airgate's state database (SQLite or
// PostgreSQL, see [sqlstore]), shared by every replica. Values are sealed
// with AES-256-GCM under a key-encryption key, whose id is recorded beside
// each value; a KEK is required.
type DBSecrets struct {
	db   *sqlstore.DB
	keks keks
	now  func() time.Time
}

// DBSecretsOptions configure a DBSecrets.
type DBSecretsOptions struct {
	// KEK seals new values and opens its own. Required.
	KEK *KEK
	// PreviousKEKs still open values sealed under them (KEK rotation).
	PreviousKEKs []*KEK
	// Now is the clock; default time.Now.
	Now func() time.Time
}

var _ SecretStore = (*DBSecrets)(nil)

// OpenDBSecrets creates the table if needed and returns the store. The
// caller keeps ownership of db.
func OpenDBSecrets(ctx context.Context, db *sqlstore.DB, o DBSecretsOptions) (*DBSecrets, error) {
	if o.KEK == nil {
		return nil, errors.New("secrets: the database store needs a key-encryption key")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	blob := "BLOB"
	if db.Postgres {
		blob = "BYTEA"
	}
	create := `CREATE TABLE IF NOT EXISTS airgate_secret_versions (
		name TEXT NOT NULL,
		version INTEGER NOT NULL,
		state TEXT NOT NULL,
		kek_id TEXT NOT NULL DEFAULT '',
		sealed ` + blob + `,
		created_ns BIGINT NOT NULL,
		expires_ns BIGINT NOT NULL DEFAULT 0,
		activated_ns BIGINT NOT NULL DEFAULT 0,
		retired_ns BIGINT NOT NULL DEFAULT 0,
		previous INTEGER NOT NULL DEFAULT 0,
		meta TEXT NOT NULL DEFAULT '{}',
		PRIMARY KEY (name, version))`
	var err error
	for range 3 {
		// Two replicas creating the table at once may see a unique
		// violation in PostgreSQL's catalogue: try again.
		if _, err = db.ExecContext(ctx, create); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: creating the secrets table: %w", err)
	}
	return &DBSecrets{db: db, keks: keks{primary: o.KEK, old: o.PreviousKEKs}, now: o.Now}, nil
}

const dbColumns = `version, state, kek_id, sealed, created_ns, expires_ns, activated_ns, retired_ns, previous, meta`

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// load reads name's versions, oldest first, opening sealed values.
func (d *DBSecrets) load(ctx context.Context, q querier, name string) (versionSet, error) {
	rows, err := q.QueryContext(ctx, d.db.Rebind(`SELECT `+dbColumns+` FROM airgate_secret_versions WHERE name = ? ORDER BY version`), name)
	if err != nil {
		return nil, fmt.Errorf("secrets: reading %s: %w", name, err)
	}
	defer rows.Close()
	var s versionSet
	for rows.Next() {
		var (
			v                                   = &Version{Name: name}
			state, kekID, meta                  string
			sealed                              []byte
			created, expires, activated, retire int64
		)
		if err := rows.Scan(&v.Version, &state, &kekID, &sealed, &created, &expires, &activated, &retire, &v.Previous, &meta); err != nil {
			return nil, fmt.Errorf("secrets: reading %s: %w", name, err)
		}
		v.State = State(state)
		v.Created, v.Expires, v.ActivatedAt, v.RetiredAt = fromNS(created), fromNS(expires), fromNS(activated), fromNS(retire)
		if err := json.Unmarshal([]byte(meta), &v.Meta); err != nil {
			return nil, fmt.Errorf("secrets: %s version %d: bad metadata: %w", name, v.Version, err)
		}
		if sealed != nil && v.State != StateRetired {
			if kekID == "" {
				return nil, fmt.Errorf("secrets: %s version %d is stored unsealed in the database", name, v.Version)
			}
			if v.Value, err = d.keks.open(name, v.Version, sealed, kekID); err != nil {
				return nil, err
			}
		}
		s = append(s, v)
	}
	return s, rows.Err()
}

func toNS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNS(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Get implements [SecretStore].
func (d *DBSecrets) Get(ctx context.Context, name string, version int) (*Version, error) {
	s, err := d.load(ctx, d.db, name)
	if err != nil {
		return nil, err
	}
	v := s.find(version)
	if v == nil {
		return nil, fmt.Errorf("secrets: %s version %d: %w", name, version, ErrNotFound)
	}
	return v, nil
}

// Put implements [SecretStore].
func (d *DBSecrets) Put(ctx context.Context, name string, v Version) (int, error) {
	if name == "" || v.Value == nil {
		return 0, errors.New("secrets: Put needs a name and a value")
	}
	meta, err := json.Marshal(v.Meta)
	if err != nil {
		return 0, err
	}
	if v.Meta == nil {
		meta = []byte("{}")
	}
	var n int
	err = d.tx(ctx, name, func(tx *sql.Tx) error {
		var maxV sql.NullInt64
		if err := tx.QueryRowContext(ctx, d.db.Rebind(`SELECT MAX(version) FROM airgate_secret_versions WHERE name = ?`), name).Scan(&maxV); err != nil {
			return err
		}
		n = int(maxV.Int64) + 1
		sealed, kekID, err := d.keks.seal(name, n, v.Value)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, d.db.Rebind(`INSERT INTO airgate_secret_versions (name, version, state, kek_id, sealed, created_ns, expires_ns, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			name, n, string(StatePending), kekID, sealed, toNS(d.now()), toNS(v.Expires), string(meta))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("secrets: storing %s: %w", name, err)
	}
	return n, nil
}

// Activate implements [SecretStore].
func (d *DBSecrets) Activate(ctx context.Context, name string, version int) error {
	return d.tx(ctx, name, func(tx *sql.Tx) error {
		s, err := d.load(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := s.activate(name, version, d.now()); err != nil {
			return err
		}
		return d.saveStates(ctx, tx, name, s)
	})
}

// Retire implements [SecretStore].
func (d *DBSecrets) Retire(ctx context.Context, name string, version int) error {
	return d.tx(ctx, name, func(tx *sql.Tx) error {
		s, err := d.load(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := s.retire(name, version, d.now()); err != nil {
			return err
		}
		return d.saveStates(ctx, tx, name, s)
	})
}

// saveStates writes the mutable columns of every version; a retired
// version's sealed value is erased.
func (d *DBSecrets) saveStates(ctx context.Context, tx *sql.Tx, name string, s versionSet) error {
	for _, v := range s {
		q := `UPDATE airgate_secret_versions SET state = ?, activated_ns = ?, retired_ns = ?, previous = ? WHERE name = ? AND version = ?`
		if v.State == StateRetired {
			q = `UPDATE airgate_secret_versions SET state = ?, activated_ns = ?, retired_ns = ?, previous = ?, sealed = NULL WHERE name = ? AND version = ?`
		}
		if _, err := tx.ExecContext(ctx, d.db.Rebind(q), string(v.State), toNS(v.ActivatedAt), toNS(v.RetiredAt), v.Previous, name, v.Version); err != nil {
			return err
		}
	}
	return nil
}

// tx runs fn in a transaction that holds the secret's write lock: SQLite's
// BEGIN IMMEDIATE (sqlstore's default), or a transaction-scoped advisory
// lock on PostgreSQL.
func (d *DBSecrets) tx(ctx context.Context, name string, fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if d.db.Postgres {
		h := fnv.New64a()
		h.Write([]byte("airgate_secret_versions\x00" + name))
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64())); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
