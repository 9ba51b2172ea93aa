using Fleet.Core.Telemetry;
using Fleet.Gateway.Ingestion;
using Fleet.TestSupport;
using static Fleet.Gateway.Tests.Ingestion.IngestionKit;

namespace Fleet.Gateway.Tests.Ingestion;

/// <summary>Refused reports land in telemetry_rejects with their reason and payload head, and never in positions.</summary>
public sealed class GatewayRejectionTests(PostgresFixture postgres)
{
    [Fact(Timeout = 60_000)]
    public async Task Each_kind_of_refused_report_is_recorded_with_its_reason_field_and_payload_head_and_nothing_is_stored()
    {
        await using var kit = await StartAsync(await postgres.CreateDatabaseAsync(cancellationToken: Token), 4);
        var registry = kit.CreateRegistry();
        var gateway = await kit.StartGatewayAsync(registry);
        var (malformed, outOfRange, disabled, unfitted) = (kit.Terminals[0], kit.Terminals[1], kit.Terminals[2], kit.Terminals[3]);

        // Registry changes reach the gateway through fleet_registry, not by polling. (The broker files are not
        // regenerated in this test, so both terminals can still connect and publish.)
        var loads = registry.LoadCount;
        await kit.ExecuteAsync("UPDATE terminals SET enabled = false WHERE id = $1", disabled.TerminalId);
        await kit.ExecuteAsync("UPDATE terminals SET vehicle_id = NULL WHERE id = $1", unfitted.TerminalId);
        await kit.EventuallyAsync(
            () => registry.LoadCount > loads && registry.TryGet(unfitted.TerminalId, out var t) && t.VehicleId is null && registry.TryGet(disabled.TerminalId, out var d) && !d.Enabled,
            TimeSpan.FromSeconds(10),
            "the registry reloads after the change",
            gateway);

        var now = NowMs;
        var truncatedJson = "{\"ts\":" + now + ",\"lat\":40.8,\"lon\":111.7,\"note\":\"" + new string('x', 300);
        var latOutOfRange = Report(now, 1, lat: 91);
        var mixedBacklog = $"[{Report(now - 2000, 2)},{Report(now - 1000, 3, spd: 400)},{Report(now, 4)}]";
        var valid = Report(now, 5);

        await using var simulator = await kit.ConnectSimulatorAsync();
        await PublishAsync(await kit.ConnectTerminalAsync(malformed), TelemetryTopic(malformed.TerminalId), truncatedJson);
        await PublishAsync(simulator, TelemetryTopic("UNKNOWN"), valid);
        var outOfRangeClient = await kit.ConnectTerminalAsync(outOfRange);
        await PublishAsync(outOfRangeClient, TelemetryTopic(outOfRange.TerminalId), latOutOfRange);
        await PublishAsync(outOfRangeClient, TelemetryTopic(outOfRange.TerminalId), mixedBacklog);
        await PublishAsync(await kit.ConnectTerminalAsync(disabled), TelemetryTopic(disabled.TerminalId), valid);
        await PublishAsync(await kit.ConnectTerminalAsync(unfitted), TelemetryTopic(unfitted.TerminalId), valid);
        await PublishAsync(simulator, StatusTopic(outOfRange.TerminalId), "sleeping");

        await kit.EventuallyAsync(() => gateway.Health.MessagesAcknowledged == 7, TimeSpan.FromSeconds(10), "all seven messages acknowledged", gateway);

        // Acknowledged means recorded: the rows are there already.
        var rows = await RejectsAsync(kit);
        Assert.Equal(
            new (string, string, string?, string)[]
            {
                (disabled.TerminalId, "TerminalDisabled", null, valid),
                (malformed.TerminalId, "MalformedJson", null, Head(truncatedJson)),
                (outOfRange.TerminalId, "InvalidField", "status", "sleeping"),
                (outOfRange.TerminalId, "InvalidPosition", "lat", latOutOfRange),
                (outOfRange.TerminalId, "SpeedOutOfRange", "spd", Head(mixedBacklog)),
                (unfitted.TerminalId, "UnknownTerminal", "vehicle", valid),
                ("UNKNOWN", "UnknownTerminal", null, valid),
            }.OrderBy(r => r.Item1, StringComparer.Ordinal).ThenBy(r => r.Item2, StringComparer.Ordinal),
            rows.OrderBy(r => r.TerminalId, StringComparer.Ordinal).ThenBy(r => r.Reason, StringComparer.Ordinal));

        // Only the backlog's two good reports were stored.
        Assert.Equal([now - 2000, now], await TimestampsAsync(kit));
        Assert.Equal(7, gateway.Health.ReportsRejected);
        Assert.Equal(2, gateway.Health.ReportsAccepted);
        var byTerminal = gateway.RejectsByTerminal();
        Assert.Equal(3, byTerminal[outOfRange.TerminalId]);
        Assert.Equal(1, byTerminal["UNKNOWN"]);
        Assert.Equal(2, gateway.RejectsByReason()[TelemetryRejectReason.UnknownTerminal]);
    }

    [Fact(Timeout = 30_000)]
    public async Task Rejects_past_the_retention_or_beyond_the_row_cap_are_pruned_oldest_first()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Token);
        await Fleet.Silo.Persistence.MigrationRunner.ApplyAsync(db, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, Token);
        var store = new TelemetryRejectStore(db);
        var now = DateTimeOffset.UtcNow;
        var rows = new List<TelemetryRejectRow>();
        for (var i = 0; i < 10; i++)
        {
            rows.Add(new TelemetryRejectRow($"T{i}", now.AddDays(-40 + (i * 5)), TelemetryRejectReason.MalformedJson, null, Utf8("{")));
        }

        await store.WriteAsync(rows, Token);

        // 40, 35 days old are past 30 days; of the 8 left, the cap keeps the newest 5 (ids follow insertion).
        var deleted = await store.PruneAsync(now.AddDays(-30), 5, Token);
        Assert.Equal(5, deleted);
        await using var command = db.CreateCommand("SELECT terminal_id FROM telemetry_rejects ORDER BY id");
        await using var reader = await command.ExecuteReaderAsync(Token);
        var left = new List<string>();
        while (await reader.ReadAsync(Token))
        {
            left.Add(reader.GetString(0));
        }

        Assert.Equal(["T5", "T6", "T7", "T8", "T9"], left);
    }

    private static string Head(string payload) => payload.Length <= TelemetryRejectStore.PayloadHeadBytes ? payload : payload[..TelemetryRejectStore.PayloadHeadBytes];

    private static async Task<List<(string TerminalId, string Reason, string? Field, string Head)>> RejectsAsync(IngestionKit kit)
    {
        var rows = new List<(string, string, string?, string)>();
        await using var command = kit.Db.CreateCommand("SELECT terminal_id, reason, field, payload_head FROM telemetry_rejects");
        await using var reader = await command.ExecuteReaderAsync(Token);
        while (await reader.ReadAsync(Token))
        {
            rows.Add((reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), System.Text.Encoding.UTF8.GetString((byte[])reader[3])));
        }

        return rows;
    }

    private static async Task<List<long>> TimestampsAsync(IngestionKit kit)
    {
        var values = new List<long>();
        await using var command = kit.Db.CreateCommand("SELECT (extract(epoch FROM ts) * 1000)::bigint FROM positions ORDER BY ts");
        await using var reader = await command.ExecuteReaderAsync(Token);
        while (await reader.ReadAsync(Token))
        {
            values.Add(reader.GetInt64(0));
        }

        return values;
    }
}
