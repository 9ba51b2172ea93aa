using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Fleet.Silo.Grains;

/// <summary>One grain snapshot bound for <c>vehicle_state</c>, already serialised.</summary>
public readonly record struct StoredSnapshot(long VehicleId, long Version, string Json);

/// <summary>A snapshot read back for activation; <see cref="Snapshot"/> is null when the stored JSON is unreadable.</summary>
public readonly record struct LoadedSnapshot(long VehicleId, long Version, VehicleGrainSnapshot? Snapshot);

/// <summary>
/// Grain persistence in <c>vehicle_state</c>: batch reads for activation, and batch compare-and-set writes, so
/// a flush is one statement however many grains changed, and an older writer never overwrites a newer snapshot.
/// </summary>
public sealed class VehicleStateStore(NpgsqlDataSource dataSource)
{
    /// <summary>Snapshots per upsert statement.</summary>
    public const int SaveChunkRows = 1000;

    // EXISTS: vehicle_state references vehicles; a grain for a vehicle missing from the registry must not fail the
    // whole batch (the gateway rejects unknown terminals, so this only guards against a registry race).
    private const string SaveSql = """
        INSERT INTO vehicle_state (vehicle_id, version, state, updated_at)
        SELECT s.vehicle_id, s.version, s.state, now()
        FROM unnest($1::bigint[], $2::bigint[], $3::jsonb[]) AS s (vehicle_id, version, state)
        WHERE EXISTS (SELECT 1 FROM vehicles v WHERE v.id = s.vehicle_id)
        ON CONFLICT (vehicle_id) DO UPDATE
            SET version = EXCLUDED.version, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at
            WHERE vehicle_state.version < EXCLUDED.version
        """;

    public static string Serialize(VehicleGrainSnapshot snapshot) =>
        JsonSerializer.Serialize(snapshot, GrainJsonContext.Default.VehicleGrainSnapshot);

    public static VehicleGrainSnapshot? Deserialize(string json) =>
        JsonSerializer.Deserialize(json, GrainJsonContext.Default.VehicleGrainSnapshot);

    /// <summary>The stored snapshots of <paramref name="vehicleIds"/>, in one query; vehicles without one are absent.</summary>
    public async Task<List<LoadedSnapshot>> LoadAsync(long[] vehicleIds, CancellationToken cancellationToken)
    {
        var result = new List<LoadedSnapshot>();
        if (vehicleIds.Length == 0)
        {
            return result;
        }

        await using var command = dataSource.CreateCommand("SELECT vehicle_id, version, state::text FROM vehicle_state WHERE vehicle_id = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = vehicleIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            VehicleGrainSnapshot? snapshot;
            try
            {
                snapshot = Deserialize(reader.GetString(2));
            }
            catch (JsonException)
            {
                snapshot = null;
            }

            result.Add(new LoadedSnapshot(reader.GetInt64(0), reader.GetInt64(1), snapshot));
        }

        return result;
    }

    /// <summary>
    /// Writes the snapshots in statements of <see cref="SaveChunkRows"/> rows, in key order; returns how many rows took
    /// (older or unknown ones do not). Chunks keep PostgreSQL's per-statement memory small (one statement of 23,000
    /// jsonb parameters spent a tenth of its time faulting fresh pages in), and key order walks the primary key once.
    /// One transaction: one WAL flush, and a failure leaves every grain dirty for the next round.
    /// </summary>
    public async Task<int> SaveAsync(IReadOnlyList<StoredSnapshot> snapshots, CancellationToken cancellationToken)
    {
        if (snapshots.Count == 0)
        {
            return 0;
        }

        var sorted = new StoredSnapshot[snapshots.Count];
        for (var i = 0; i < sorted.Length; i++)
        {
            sorted[i] = snapshots[i];
        }

        Array.Sort(sorted, static (a, b) => a.VehicleId.CompareTo(b.VehicleId));
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var written = 0;
        for (var start = 0; start < sorted.Length; start += SaveChunkRows)
        {
            var count = Math.Min(SaveChunkRows, sorted.Length - start);
            var ids = new long[count];
            var versions = new long[count];
            var states = new string[count];
            for (var i = 0; i < count; i++)
            {
                (ids[i], versions[i], states[i]) = sorted[start + i];
            }

            await using var command = new NpgsqlCommand(SaveSql, connection, transaction);
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = versions, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = states, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
            written += await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return written;
    }
}
