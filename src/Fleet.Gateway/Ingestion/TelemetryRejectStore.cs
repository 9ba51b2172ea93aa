using Fleet.Core.Telemetry;
using Npgsql;
using NpgsqlTypes;

namespace Fleet.Gateway.Ingestion;

/// <summary>One refused report (or whole payload) as stored in <c>telemetry_rejects</c>.</summary>
/// <param name="PayloadHead">The first <see cref="TelemetryRejectStore.PayloadHeadBytes"/> bytes of the payload at most.</param>
public readonly record struct TelemetryRejectRow(string TerminalId, DateTimeOffset ReceivedAt, TelemetryRejectReason Reason, string? Field, ReadOnlyMemory<byte> PayloadHead);

/// <summary>Writes rejects in batches (one binary COPY per call) and prunes them by age and by count.</summary>
public sealed class TelemetryRejectStore(NpgsqlDataSource dataSource)
{
    /// <summary>How much of a refused payload is kept (the column's check allows no more).</summary>
    public const int PayloadHeadBytes = 256;

    private const string CopySql = "COPY telemetry_rejects (terminal_id, received_at, reason, field, payload_head) FROM STDIN (FORMAT BINARY)";

    // The stored names are the enum's: stable API (see TelemetryRejectReason). Built once so a reject allocates no name.
    private static readonly string[] ReasonNames = BuildReasonNames();

    /// <summary>Stores <paramref name="rows"/> in one COPY: all of them or, on failure, none.</summary>
    public async Task WriteAsync(IReadOnlyList<TelemetryRejectRow> rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
        {
            return;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var writer = await connection.BeginBinaryImportAsync(CopySql, cancellationToken);
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            await writer.StartRowAsync(cancellationToken);
            await writer.WriteAsync(row.TerminalId, NpgsqlDbType.Text, cancellationToken);
            await writer.WriteAsync(row.ReceivedAt.UtcDateTime, NpgsqlDbType.TimestampTz, cancellationToken);
            await writer.WriteAsync(ReasonName(row.Reason), NpgsqlDbType.Text, cancellationToken);
            if (row.Field is null)
            {
                await writer.WriteNullAsync(cancellationToken);
            }
            else
            {
                await writer.WriteAsync(row.Field, NpgsqlDbType.Text, cancellationToken);
            }

            await writer.WriteAsync(row.PayloadHead.Length <= PayloadHeadBytes ? row.PayloadHead : row.PayloadHead[..PayloadHeadBytes], NpgsqlDbType.Bytea, cancellationToken);
        }

        await writer.CompleteAsync(cancellationToken);
    }

    /// <summary>Deletes rejects received before <paramref name="olderThan"/>, then all but the newest <paramref name="maxRows"/>. Returns the rows deleted.</summary>
    public async Task<long> PruneAsync(DateTimeOffset olderThan, long maxRows, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 0);
        await using var batch = dataSource.CreateBatch();
        var byAge = new NpgsqlBatchCommand("DELETE FROM telemetry_rejects WHERE received_at < $1");
        byAge.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = olderThan.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        batch.BatchCommands.Add(byAge);

        // Ids grow with insertion, so "the newest N" is the N highest ids; the index on the primary key finds the cut.
        var byCount = new NpgsqlBatchCommand("DELETE FROM telemetry_rejects WHERE id <= (SELECT id FROM telemetry_rejects ORDER BY id DESC OFFSET $1 LIMIT 1)");
        byCount.Parameters.Add(new NpgsqlParameter<long> { TypedValue = maxRows });
        batch.BatchCommands.Add(byCount);

        await batch.ExecuteNonQueryAsync(cancellationToken);
        return Math.Max(0, byAge.RecordsAffected) + Math.Max(0, byCount.RecordsAffected);
    }

    public static string ReasonName(TelemetryRejectReason reason) =>
        (int)reason < ReasonNames.Length ? ReasonNames[(int)reason] : reason.ToString();

    private static string[] BuildReasonNames()
    {
        var values = Enum.GetValues<TelemetryRejectReason>();
        var names = new string[values.Max(v => (int)v) + 1];
        foreach (var value in values)
        {
            names[(int)value] = value.ToString();
        }

        return names;
    }
}
