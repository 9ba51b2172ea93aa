using System.Text.Json;
using Fleet.Simulator.Running;
using Npgsql;

namespace Fleet.Web.Tests.Faults;

/// <summary>A report as <c>positions</c> keys it: PRIMARY KEY (vehicle_id, ts, seq), ts in epoch ms.</summary>
internal readonly record struct ReportKey(long VehicleId, long TsMs, long Seq);

/// <summary>What <c>positions</c> holds against the ledger.</summary>
/// <param name="Acked">Distinct reports whose QoS 1 publish the broker acknowledged.</param>
/// <param name="Missing">Acknowledged reports that are not in <c>positions</c>.</param>
/// <param name="Rows">Rows in <c>positions</c> for the ledger's vehicles since the ledger started.</param>
/// <param name="DistinctKeys">Distinct (vehicle, ts, seq) among those rows: below <paramref name="Rows"/> means a report is stored twice.</param>
/// <param name="AckedRows">Rows of acknowledged reports; equal to <paramref name="Acked"/> when each is stored exactly once.</param>
internal sealed record LedgerCheck(int Acked, int Missing, long Rows, long DistinctKeys, long AckedRows, IReadOnlyList<ReportKey> MissingSample);

/// <summary>
/// Records every telemetry publish of the simulator (through <see cref="SimulationOptions.OnTelemetryOutcome"/>):
/// the reports of the acknowledged ones are what the platform promised to store. Thread-safe: the outcomes arrive on
/// the MQTT clients' continuations.
/// </summary>
internal sealed class DeliveryLedger(IReadOnlyDictionary<string, long> vehicleOfTerminal)
{
    private readonly Lock _lock = new();
    private readonly HashSet<ReportKey> _acked = [];
    private readonly DateTimeOffset _startedAt = DateTimeOffset.UtcNow;
    private long _published;
    private long _ackedPublishes;
    private long _failedPublishes;
    private long _reportsSent;
    private long _reportsFailed;

    public long Published => Interlocked.Read(ref _published);

    public long AckedPublishes => Interlocked.Read(ref _ackedPublishes);

    public long FailedPublishes => Interlocked.Read(ref _failedPublishes);

    /// <summary>Reports in every publish whose outcome is known, acknowledged or not.</summary>
    public long ReportsSent => Interlocked.Read(ref _reportsSent);

    public long ReportsFailed => Interlocked.Read(ref _reportsFailed);

    public int ReportsAcked
    {
        get
        {
            lock (_lock)
            {
                return _acked.Count;
            }
        }
    }

    public void Record(TelemetryOutcome outcome)
    {
        var keys = Parse(vehicleOfTerminal[outcome.TerminalId], outcome.Payload);
        Interlocked.Increment(ref _published);
        Interlocked.Add(ref _reportsSent, keys.Count);
        if (!outcome.Acked)
        {
            Interlocked.Increment(ref _failedPublishes);
            Interlocked.Add(ref _reportsFailed, keys.Count);
            return;
        }

        Interlocked.Increment(ref _ackedPublishes);
        lock (_lock)
        {
            foreach (var key in keys)
            {
                _acked.Add(key);
            }
        }
    }

    /// <summary>Compares the acknowledged reports with <c>positions</c> (the ledger's vehicles, from its start on).</summary>
    public async Task<LedgerCheck> CheckAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        ReportKey[] acked;
        lock (_lock)
        {
            acked = [.. _acked];
        }

        var vehicles = acked.Select(k => k.VehicleId).Distinct().ToArray();

        // A minute of slack before the start: terminal clocks and the scheduler's first slot are not exact.
        var since = _startedAt.AddMinutes(-1);
        var stored = new Dictionary<ReportKey, int>(acked.Length + 1024);
        long rows = 0;
        await using (var command = new NpgsqlCommand(
            "SELECT vehicle_id, (extract(epoch FROM ts) * 1000)::bigint, seq FROM positions WHERE vehicle_id = ANY($1) AND ts >= $2",
            connection))
        {
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = vehicles });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = since });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var key = new ReportKey(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
                stored[key] = stored.GetValueOrDefault(key) + 1;
                rows++;
            }
        }

        var missing = new List<ReportKey>();
        long ackedRows = 0;
        foreach (var key in acked)
        {
            if (stored.TryGetValue(key, out var count))
            {
                ackedRows += count;
            }
            else
            {
                missing.Add(key);
            }
        }

        return new LedgerCheck(acked.Length, missing.Count, rows, stored.Count, ackedRows, missing.Take(5).ToList());
    }

    /// <summary>The (ts, seq) of each report in a payload: one JSON object, or an array of them (a backlog).</summary>
    private static List<ReportKey> Parse(long vehicleId, ReadOnlyMemory<byte> payload)
    {
        using var document = JsonDocument.Parse(payload);
        var keys = new List<ReportKey>(1);
        if (document.RootElement.ValueKind == JsonValueKind.Array)
        {
            foreach (var report in document.RootElement.EnumerateArray())
            {
                keys.Add(KeyOf(vehicleId, report));
            }
        }
        else
        {
            keys.Add(KeyOf(vehicleId, document.RootElement));
        }

        return keys;
    }

    private static ReportKey KeyOf(long vehicleId, JsonElement report) =>
        new(vehicleId, report.GetProperty("ts").GetInt64(), report.TryGetProperty("seq", out var seq) ? seq.GetInt64() : 0);
}
