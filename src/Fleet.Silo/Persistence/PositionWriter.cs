using System.Buffers;
using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace Fleet.Silo.Persistence;

/// <summary>
/// Appends position batches with binary COPY: the hot path writes nothing per message.
/// COPY aborts on the first duplicate key, and duplicates are expected after a crash (the broker redelivers
/// what was not acknowledged, some of which was committed). So a batch is copied straight into
/// <c>positions</c>, and only if that hits a duplicate is it copied into a staging table and inserted with
/// ON CONFLICT DO NOTHING. Exactly-once storage holds either way; the common case stays a plain COPY.
/// Rows go out in primary-key order: a batch holds one row each of thousands of vehicles, and inserting them in key
/// order walks the key index left to right instead of jumping between its leaves.
/// </summary>
public sealed class PositionWriter(NpgsqlDataSource dataSource)
{
    private const string Columns = "vehicle_id, ts, received_at, seq, lat, lon, spd, hdg, alt, acc, odo, fuel, soc, sats, hdop, alarm, obd";

    public async Task<PositionWriteResult> WriteAsync(IReadOnlyList<PositionRow> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return default;
        }

        var order = KeyOrder(rows);
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            try
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await CopyAsync(connection, "positions", rows, order, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return new PositionWriteResult(rows.Count, 0);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                return await WriteSkippingDuplicatesAsync(connection, rows, order, cancellationToken);
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(order);
        }
    }

    /// <summary>Indexes of <paramref name="rows"/> sorted by (vehicle_id, ts, seq); a pooled array, at least rows.Count long.</summary>
    private static int[] KeyOrder(IReadOnlyList<PositionRow> rows)
    {
        var keys = ArrayPool<RowKey>.Shared.Rent(rows.Count);
        var order = ArrayPool<int>.Shared.Rent(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            keys[i] = new RowKey(row.VehicleId, row.Fix.Ts, row.Fix.Seq, i);
        }

        keys.AsSpan(0, rows.Count).Sort(default(RowKeyComparer));
        for (var i = 0; i < rows.Count; i++)
        {
            order[i] = keys[i].Index;
        }

        ArrayPool<RowKey>.Shared.Return(keys);
        return order;
    }

    private static async Task<PositionWriteResult> WriteSkippingDuplicatesAsync(NpgsqlConnection connection, IReadOnlyList<PositionRow> rows, int[] order, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var create = new NpgsqlCommand("CREATE TEMP TABLE IF NOT EXISTS positions_staging (LIKE positions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await CopyAsync(connection, "positions_staging", rows, order, cancellationToken);

        // DISTINCT ON: a batch may itself hold the same report twice (a redelivered message next to its original).
        await using var insert = new NpgsqlCommand(
            $"INSERT INTO positions ({Columns}) SELECT DISTINCT ON (vehicle_id, ts, seq) {Columns} FROM positions_staging ON CONFLICT DO NOTHING",
            connection,
            transaction);
        var inserted = await insert.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new PositionWriteResult(inserted, rows.Count - inserted);
    }

    private static async Task CopyAsync(NpgsqlConnection connection, string table, IReadOnlyList<PositionRow> rows, int[] order, CancellationToken cancellationToken)
    {
        await using var importer = await connection.BeginBinaryImportAsync($"COPY {table} ({Columns}) FROM STDIN (FORMAT BINARY)", cancellationToken);
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[order[i]];
            var fix = row.Fix;
            await importer.StartRowAsync(cancellationToken);
            await importer.WriteAsync(row.VehicleId, NpgsqlDbType.Bigint, cancellationToken);
            await importer.WriteAsync(DateTime.UnixEpoch.AddMilliseconds(fix.Ts), NpgsqlDbType.TimestampTz, cancellationToken);
            await importer.WriteAsync(DateTime.UnixEpoch.AddMilliseconds(row.ReceivedAtMs), NpgsqlDbType.TimestampTz, cancellationToken);
            await importer.WriteAsync((long)fix.Seq, NpgsqlDbType.Bigint, cancellationToken);
            await importer.WriteAsync(fix.Lat, NpgsqlDbType.Double, cancellationToken);
            await importer.WriteAsync(fix.Lon, NpgsqlDbType.Double, cancellationToken);
            await WriteRealAsync(importer, fix.Spd, cancellationToken);
            await WriteSmallintAsync(importer, fix.Hdg, cancellationToken);
            await WriteRealAsync(importer, fix.Alt, cancellationToken);
            if (fix.Acc is { } acc)
            {
                await importer.WriteAsync(acc, NpgsqlDbType.Boolean, cancellationToken);
            }
            else
            {
                await importer.WriteNullAsync(cancellationToken);
            }

            if (double.IsNaN(fix.Odo))
            {
                await importer.WriteNullAsync(cancellationToken);
            }
            else
            {
                await importer.WriteAsync(fix.Odo, NpgsqlDbType.Double, cancellationToken);
            }

            await WriteRealAsync(importer, fix.Fuel, cancellationToken);
            await WriteRealAsync(importer, fix.Soc, cancellationToken);
            await WriteSmallintAsync(importer, fix.Sats, cancellationToken);
            await WriteRealAsync(importer, fix.Hdop, cancellationToken);
            await importer.WriteAsync((long)fix.Alarm, NpgsqlDbType.Bigint, cancellationToken);
            if (row.ObdJson.IsEmpty)
            {
                await importer.WriteNullAsync(cancellationToken);
            }
            else
            {
                // The parser already checked the payload is valid UTF-8 JSON, so the text goes in as it came.
                await importer.WriteAsync(Encoding.UTF8.GetString(row.ObdJson.Span), NpgsqlDbType.Jsonb, cancellationToken);
            }
        }

        await importer.CompleteAsync(cancellationToken);
    }

    private static Task WriteRealAsync(NpgsqlBinaryImporter importer, float value, CancellationToken cancellationToken) =>
        float.IsNaN(value) ? importer.WriteNullAsync(cancellationToken) : importer.WriteAsync(value, NpgsqlDbType.Real, cancellationToken);

    private static Task WriteSmallintAsync(NpgsqlBinaryImporter importer, short value, CancellationToken cancellationToken) =>
        value < 0 ? importer.WriteNullAsync(cancellationToken) : importer.WriteAsync(value, NpgsqlDbType.Smallint, cancellationToken);

    private readonly record struct RowKey(long VehicleId, long Ts, uint Seq, int Index);

    private readonly struct RowKeyComparer : IComparer<RowKey>
    {
        public int Compare(RowKey x, RowKey y)
        {
            var c = x.VehicleId.CompareTo(y.VehicleId);
            if (c == 0)
            {
                c = x.Ts.CompareTo(y.Ts);
            }

            return c != 0 ? c : x.Seq.CompareTo(y.Seq);
        }
    }
}
