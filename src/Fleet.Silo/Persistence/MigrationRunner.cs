using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Fleet.Silo.Persistence;

/// <summary>What a migration run did: the versions it applied now and the schema version afterwards.</summary>
public sealed record MigrationResult(IReadOnlyList<int> Applied, int CurrentVersion);

/// <summary>
/// Applies the versioned SQL migrations, each once, each in its own transaction, recorded in schema_migrations.
/// A session advisory lock serialises runners: a second process starting at the same time waits, then finds
/// the migrations already applied.
/// </summary>
public static partial class MigrationRunner
{
    // Arbitrary but fixed: every Fleet process must use the same key. ("Fleet" + "mig" in ASCII.)
    private const long LockKey = 0x466C_6565_746D_6967;

    /// <summary>Applies the migrations embedded in Fleet.Silo.</summary>
    public static Task<MigrationResult> ApplyAsync(NpgsqlDataSource dataSource, ILogger logger, CancellationToken cancellationToken) =>
        ApplyAsync(dataSource, Migration.LoadEmbedded(), logger, cancellationToken);

    /// <summary>Applies <paramref name="migrations"/>, which must have distinct versions.</summary>
    public static async Task<MigrationResult> ApplyAsync(
        NpgsqlDataSource dataSource,
        IReadOnlyList<Migration> migrations,
        ILogger logger,
        CancellationToken cancellationToken)
    {
        var ordered = Validate(migrations);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await AcquireLockAsync(connection, logger, cancellationToken);
        try
        {
            await ExecuteAsync(
                connection,
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                cancellationToken);

            var recorded = await ReadRecordedAsync(connection, cancellationToken);
            VerifyChecksums(ordered, recorded);
            foreach (var unknown in recorded.Keys.Where(v => ordered.All(m => m.Version != v)))
            {
                LogUnknownVersion(logger, unknown);
            }

            var applied = new List<int>();
            foreach (var migration in ordered.Where(m => !recorded.ContainsKey(m.Version)))
            {
                await ApplyOneAsync(connection, migration, logger, cancellationToken);
                applied.Add(migration.Version);
            }

            if (applied.Count > 0)
            {
                // Types created by the migrations (PostGIS geometry, …) become known to the data source's connections.
                await dataSource.ReloadTypesAsync(cancellationToken);
            }

            var current = Math.Max(recorded.Keys.DefaultIfEmpty(0).Max(), applied.DefaultIfEmpty(0).Max());
            return new MigrationResult(applied, current);
        }
        finally
        {
            await ReleaseLockAsync(connection);
        }
    }

    private static List<Migration> Validate(IReadOnlyList<Migration> migrations)
    {
        var ordered = migrations.OrderBy(m => m.Version).ToList();
        for (var i = 1; i < ordered.Count; i++)
        {
            if (ordered[i].Version == ordered[i - 1].Version)
            {
                throw new MigrationException($"Migrations {ordered[i - 1].FileName} and {ordered[i].FileName} have the same version {ordered[i].Version}");
            }
        }

        return ordered;
    }

    private static async Task AcquireLockAsync(NpgsqlConnection connection, ILogger logger, CancellationToken cancellationToken)
    {
        await using var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection);
        tryLock.Parameters.Add(new NpgsqlParameter { Value = LockKey });
        if ((bool)(await tryLock.ExecuteScalarAsync(cancellationToken))!)
        {
            return;
        }

        LogWaitingForLock(logger);
        var stopwatch = Stopwatch.StartNew();
        // No command timeout: another process may legitimately be running a long migration; cancellation still works.
        await using var waitLock = new NpgsqlCommand("SELECT pg_advisory_lock($1)", connection) { CommandTimeout = 0 };
        waitLock.Parameters.Add(new NpgsqlParameter { Value = LockKey });
        await waitLock.ExecuteNonQueryAsync(cancellationToken);
        LogLockAcquired(logger, stopwatch.ElapsedMilliseconds);
    }

    private static async Task ReleaseLockAsync(NpgsqlConnection connection)
    {
        // A pooled connection keeps its session locks, so the lock must be released before it goes back to the pool.
        // If the connection broke, the server has already released the lock with the session.
        if (connection.State != System.Data.ConnectionState.Open)
        {
            return;
        }

        await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", connection);
        unlock.Parameters.Add(new NpgsqlParameter { Value = LockKey });
        await unlock.ExecuteNonQueryAsync(CancellationToken.None);
    }

    private static async Task<Dictionary<int, (string Name, string Checksum)>> ReadRecordedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var recorded = new Dictionary<int, (string, string)>();
        await using var command = new NpgsqlCommand("SELECT version, name, checksum FROM schema_migrations", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            recorded[reader.GetInt32(0)] = (reader.GetString(1), reader.GetString(2));
        }

        return recorded;
    }

    private static void VerifyChecksums(List<Migration> migrations, Dictionary<int, (string Name, string Checksum)> recorded)
    {
        foreach (var migration in migrations)
        {
            if (recorded.TryGetValue(migration.Version, out var row) && row.Checksum != migration.Checksum)
            {
                throw new MigrationException(
                    $"Migration {migration.FileName} was changed after it was applied to this database " +
                    $"(recorded checksum {row.Checksum}, file now {migration.Checksum}). " +
                    "Applied migrations must not be edited: add a new migration instead.");
            }
        }
    }

    private static async Task ApplyOneAsync(NpgsqlConnection connection, Migration migration, ILogger logger, CancellationToken cancellationToken)
    {
        LogApplying(logger, migration.FileName);
        var stopwatch = Stopwatch.StartNew();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            await using (var script = new NpgsqlCommand(migration.Sql, connection, transaction) { CommandTimeout = 0 })
            {
                await script.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var record = new NpgsqlCommand("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", connection, transaction))
            {
                record.Parameters.Add(new NpgsqlParameter { Value = migration.Version });
                record.Parameters.Add(new NpgsqlParameter { Value = migration.Name });
                record.Parameters.Add(new NpgsqlParameter { Value = migration.Checksum });
                await record.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }
        catch (PostgresException ex)
        {
            throw new MigrationException($"Migration {migration.FileName} failed and was rolled back: {ex.MessageText} (SQLSTATE {ex.SqlState}, position {ex.Position})", ex);
        }

        LogApplied(logger, migration.FileName, stopwatch.ElapsedMilliseconds);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Another process is migrating the database; waiting for it")]
    private static partial void LogWaitingForLock(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Migration lock acquired after {WaitedMs} ms")]
    private static partial void LogLockAcquired(ILogger logger, long waitedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applying migration {FileName}")]
    private static partial void LogApplying(ILogger logger, string fileName);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {FileName} in {ElapsedMs} ms")]
    private static partial void LogApplied(ILogger logger, string fileName, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database has migration version {Version}, which this build does not know (a newer build migrated it)")]
    private static partial void LogUnknownVersion(ILogger logger, int version);
}
