import Foundation
import GRDB

/// The schema of a sweep database (see README, "The sweep database").
///
/// Versioning: GRDB's `DatabaseMigrator` records applied migrations in its own table
/// `grdb_migrations`; migration "v1" also sets `PRAGMA user_version = 1`, so that
/// `sqlite3 sweep.sqlite 'PRAGMA user_version'` tells the schema version; migration "v2" sets
/// `user_version = 2`, and so on.
///
/// Version 2 records the schedule semantics (`sweep.schedule_rules`) and adds the plateau
/// baseline. A version-1 database that holds a sweep was made with the earlier trigger rule: it
/// is opened as it is, never migrated (its results are read, never extended).
enum SQLiteSchema {
    /// The schema version this build writes.
    static let version = 4
    /// The tables of our schema (besides GRDB's `grdb_migrations`).
    static let tables: Set<String> = ["sweep", "trials", "epochs"]
    static let migrationTable = "grdb_migrations"

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE sweep (
                    id          INTEGER PRIMARY KEY CHECK (id = 1),
                    name        TEXT NOT NULL,
                    space_json  TEXT NOT NULL,
                    space_hash  TEXT NOT NULL,
                    created_at  REAL NOT NULL
                );
                CREATE TABLE trials (
                    id                  TEXT PRIMARY KEY NOT NULL,
                    number              INTEGER NOT NULL UNIQUE,
                    configuration       TEXT NOT NULL,
                    schedule            TEXT NOT NULL
                                        CHECK (schedule IN ('sgdr', 'step', 'cosine', 'constant')),
                    repeat_index        INTEGER NOT NULL,
                    seed                INTEGER NOT NULL,
                    lr_max              REAL NOT NULL,
                    lr_min              REAL NOT NULL,
                    t0                  INTEGER NOT NULL,
                    tmult               REAL NOT NULL,
                    lr_max_compression  REAL NOT NULL,
                    trigger_val_acc     REAL NOT NULL,
                    epochs              INTEGER NOT NULL,
                    step_milestones     TEXT NOT NULL,
                    step_factor         REAL NOT NULL,
                    swept               TEXT NOT NULL,
                    status              TEXT NOT NULL DEFAULT 'pending'
                                        CHECK (status IN ('pending', 'running', 'done', 'diverged', 'failed', 'interrupted')),
                    owner               TEXT,
                    attempts            INTEGER NOT NULL DEFAULT 0,
                    started_at          REAL,
                    finished_at         REAL,
                    seconds             REAL,
                    error               TEXT,
                    best_val_acc        REAL,
                    best_epoch          INTEGER,
                    final_val_acc       REAL
                );
                CREATE INDEX trials_status_number ON trials (status, number);
                CREATE INDEX trials_configuration ON trials (configuration);
                CREATE TABLE epochs (
                    trial_id       TEXT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
                    epoch          INTEGER NOT NULL,
                    lr             REAL,
                    train_loss     REAL,
                    train_acc      REAL,
                    val_loss       REAL,
                    val_acc        REAL,
                    train_seconds  REAL,
                    PRIMARY KEY (trial_id, epoch)
                );
                PRAGMA user_version = 1;
                """)
        }
        // v2: the plateau baseline (its settings, and 'plateau' in the schedule CHECK, which
        // SQLite can only change by rebuilding the table) and the sweep's schedule rules
        // (1 for a sweep made before this migration, which can only be an empty one: see above).
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                CREATE TABLE trials_v2 (
                    id                  TEXT PRIMARY KEY NOT NULL,
                    number              INTEGER NOT NULL UNIQUE,
                    configuration       TEXT NOT NULL,
                    schedule            TEXT NOT NULL
                                        CHECK (schedule IN ('sgdr', 'step', 'cosine', 'constant', 'plateau')),
                    repeat_index        INTEGER NOT NULL,
                    seed                INTEGER NOT NULL,
                    lr_max              REAL NOT NULL,
                    lr_min              REAL NOT NULL,
                    t0                  INTEGER NOT NULL,
                    tmult               REAL NOT NULL,
                    lr_max_compression  REAL NOT NULL,
                    trigger_val_acc     REAL NOT NULL,
                    epochs              INTEGER NOT NULL,
                    step_milestones     TEXT NOT NULL,
                    step_factor         REAL NOT NULL,
                    plateau_factor      REAL NOT NULL DEFAULT 0.1,
                    plateau_patience    INTEGER NOT NULL DEFAULT 3,
                    plateau_min_delta   REAL NOT NULL DEFAULT 0.0001,
                    swept               TEXT NOT NULL,
                    status              TEXT NOT NULL DEFAULT 'pending'
                                        CHECK (status IN ('pending', 'running', 'done', 'diverged', 'failed', 'interrupted')),
                    owner               TEXT,
                    attempts            INTEGER NOT NULL DEFAULT 0,
                    started_at          REAL,
                    finished_at         REAL,
                    seconds             REAL,
                    error               TEXT,
                    best_val_acc        REAL,
                    best_epoch          INTEGER,
                    final_val_acc       REAL
                );
                INSERT INTO trials_v2 (id, number, configuration, schedule, repeat_index, seed, lr_max, lr_min,
                    t0, tmult, lr_max_compression, trigger_val_acc, epochs, step_milestones, step_factor, swept,
                    status, owner, attempts, started_at, finished_at, seconds, error, best_val_acc, best_epoch,
                    final_val_acc)
                SELECT id, number, configuration, schedule, repeat_index, seed, lr_max, lr_min,
                    t0, tmult, lr_max_compression, trigger_val_acc, epochs, step_milestones, step_factor, swept,
                    status, owner, attempts, started_at, finished_at, seconds, error, best_val_acc, best_epoch,
                    final_val_acc
                FROM trials;
                DROP TABLE trials;
                ALTER TABLE trials_v2 RENAME TO trials;
                CREATE INDEX trials_status_number ON trials (status, number);
                CREATE INDEX trials_configuration ON trials (configuration);
                ALTER TABLE sweep ADD COLUMN schedule_rules INTEGER NOT NULL DEFAULT 1;
                PRAGMA user_version = 2;
                """)
        }
        // v3: leases. The time of a running trial's last heartbeat (Unix seconds; set by the claim,
        // renewed by its owner); NULL for trials claimed before this migration.
        migrator.registerMigration("v3") { db in
            try db.execute(sql: """
                ALTER TABLE trials ADD COLUMN heartbeat_at REAL;
                PRAGMA user_version = 3;
                """)
        }
        // v4: the other metrics a user's own trainer reports, per epoch (a JSON object of
        // numbers; NULL when there are none, as for every built-in epoch).
        migrator.registerMigration("v4") { db in
            try db.execute(sql: """
                ALTER TABLE epochs ADD COLUMN extra TEXT;
                PRAGMA user_version = 4;
                """)
        }
        return migrator
    }
}
