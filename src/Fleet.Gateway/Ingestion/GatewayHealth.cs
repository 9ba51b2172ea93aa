using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Fleet.Core.Telemetry;
using Fleet.Silo.Shards;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Fleet.Gateway.Ingestion;

/// <summary>
/// A snapshot of the gateway: its broker connection, the pipeline and the counters since start. Messages are MQTT
/// messages; reports are the fixes in them (a backlog array carries many).
/// </summary>
/// <param name="InFlightBatches">Received batches submitted but not yet acknowledged (waiting for their commit).</param>
/// <param name="InFlightMessages">The messages in those batches: received, not yet acknowledged to the broker.</param>
/// <param name="MessagesAcknowledged">Messages acknowledged to the broker, always after their reports committed.</param>
/// <param name="ReportsCommitted">Accepted reports whose commit completed (and were acknowledged).</param>
/// <param name="ReportsRejected">Reject rows recorded: a refused report, or a whole refused payload.</param>
/// <param name="Sessions">MQTT sessions started; more than one means a connect failed or a session was restarted after a failure.</param>
public sealed record GatewayHealth(
    bool Connected,
    bool RegistryLoaded,
    int Terminals,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    int InFlightBatches,
    int InFlightMessages,
    long MessagesReceived,
    long MessagesAcknowledged,
    long ReportsAccepted,
    long ReportsCommitted,
    long ReportsRejected,
    long ReportsDuplicate,
    long StatusUpdates,
    long Sessions);

/// <summary>The gateway's counters: updated once per batch (not per message) on the hot path, read from anywhere.</summary>
internal sealed class GatewayMetrics(int maxTerminals)
{
    /// <summary>The shared counter of terminals beyond the tracked ones.</summary>
    public const string OtherTerminals = "*";

    private readonly ConcurrentDictionary<string, long> _rejectsByTerminal = new(StringComparer.Ordinal);
    private readonly long[] _rejectsByReason = new long[Enum.GetValues<TelemetryRejectReason>().Max(r => (int)r) + 1];
    private readonly Lock _errorLock = new();
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;
    private int _trackedTerminals;

    public long MessagesReceived;
    public long MessagesAcknowledged;
    public long ReportsAccepted;
    public long ReportsCommitted;
    public long ReportsRejected;
    public long ReportsDuplicate;
    public long StatusUpdates;
    public long Sessions;
    public int InFlightBatches;
    public int InFlightMessages;

    /// <summary>Called by the single receive loop only, so the key count needs no coordination beyond visibility.</summary>
    public void CountReject(string terminalId, TelemetryRejectReason reason)
    {
        Interlocked.Increment(ref _rejectsByReason[(int)reason]);

        // ConcurrentDictionary.Count takes every lock; a flood of rejects must not pay that per row.
        var key = _trackedTerminals < maxTerminals || _rejectsByTerminal.ContainsKey(terminalId) ? terminalId : OtherTerminals;
        if (_rejectsByTerminal.TryAdd(key, 1))
        {
            _trackedTerminals++;
        }
        else
        {
            _rejectsByTerminal.AddOrUpdate(key, 1, static (_, count) => count + 1);
        }
    }

    public IReadOnlyDictionary<string, long> RejectsByTerminal() => new Dictionary<string, long>(_rejectsByTerminal, StringComparer.Ordinal);

    /// <summary>
    /// Publishes these counters on <paramref name="meter"/>, read at scrape time: the receive loop keeps counting as it
    /// does, at no extra cost. A report is received once and then accepted, dropped as a duplicate or rejected (a
    /// refused payload counts as one report).
    /// </summary>
    public void Observe(Meter meter, Func<bool> connected)
    {
        meter.CreateObservableCounter(
            "fleet.reports.received",
            () => Interlocked.Read(ref ReportsAccepted) + Interlocked.Read(ref ReportsDuplicate) + Interlocked.Read(ref ReportsRejected),
            "{report}",
            "Reports received from terminals: accepted, duplicate or rejected");
        meter.CreateObservableCounter("fleet.reports.accepted", () => Interlocked.Read(ref ReportsAccepted), "{report}", "Reports validated and handed to the shards");
        meter.CreateObservableCounter("fleet.reports.duplicate", () => Interlocked.Read(ref ReportsDuplicate), "{report}", "Reports dropped as recent duplicates of (terminal, ts, seq)");
        meter.CreateObservableCounter("fleet.reports.rejected", ObserveRejects, "{report}", "Reports refused, by reason; each is recorded in telemetry_rejects");
        meter.CreateObservableCounter("fleet.gateway.messages.received", () => Interlocked.Read(ref MessagesReceived), "{message}", "MQTT messages received from the broker");
        meter.CreateObservableCounter("fleet.gateway.messages.acknowledged", () => Interlocked.Read(ref MessagesAcknowledged), "{message}", "MQTT messages acknowledged to the broker, each after its reports committed");
        meter.CreateObservableGauge("fleet.gateway.inflight.batches", () => Volatile.Read(ref InFlightBatches), "{batch}", "Received batches submitted and waiting for their commit before the acknowledgement");
        meter.CreateObservableGauge("fleet.gateway.inflight.messages", () => Volatile.Read(ref InFlightMessages), "{message}", "Messages received and not yet acknowledged");
        meter.CreateObservableGauge("fleet.gateway.connected", () => connected() ? 1 : 0, null, "1 while the gateway's MQTT session is connected");
    }

    private IEnumerable<Measurement<long>> ObserveRejects()
    {
        // Every reason, zeros too, so a rate over the first reject of a kind is right.
        var measurements = new Measurement<long>[_rejectsByReason.Length - 1];
        for (var i = 1; i < _rejectsByReason.Length; i++)
        {
            var reason = (TelemetryRejectReason)i;
            measurements[i - 1] = new Measurement<long>(Interlocked.Read(ref _rejectsByReason[i]), new KeyValuePair<string, object?>("reason", TelemetryRejectStore.ReasonName(reason)));
        }

        return measurements;
    }

    public IReadOnlyDictionary<TelemetryRejectReason, long> RejectsByReason()
    {
        var counts = new Dictionary<TelemetryRejectReason, long>();
        for (var i = 0; i < _rejectsByReason.Length; i++)
        {
            var count = Interlocked.Read(ref _rejectsByReason[i]);
            if (count > 0)
            {
                counts[(TelemetryRejectReason)i] = count;
            }
        }

        return counts;
    }

    public void Failed(Exception exception, DateTimeOffset at)
    {
        lock (_errorLock)
        {
            _lastError = $"{exception.GetType().Name}: {exception.Message}";
            _lastErrorAt = at;
        }
    }

    public GatewayHealth Snapshot(bool connected, TerminalRegistry registry)
    {
        string? lastError;
        DateTimeOffset? lastErrorAt;
        lock (_errorLock)
        {
            lastError = _lastError;
            lastErrorAt = _lastErrorAt;
        }

        return new GatewayHealth(
            connected,
            registry.IsLoaded,
            registry.Count,
            lastError,
            lastErrorAt,
            Volatile.Read(ref InFlightBatches),
            Volatile.Read(ref InFlightMessages),
            Interlocked.Read(ref MessagesReceived),
            Interlocked.Read(ref MessagesAcknowledged),
            Interlocked.Read(ref ReportsAccepted),
            Interlocked.Read(ref ReportsCommitted),
            Interlocked.Read(ref ReportsRejected),
            Interlocked.Read(ref ReportsDuplicate),
            Interlocked.Read(ref StatusUpdates),
            Interlocked.Read(ref Sessions));
    }
}

/// <summary>
/// For <c>/health</c>: Degraded while the gateway is not connected to the broker, has no registry yet, or the silo's
/// store fails (commits are then held back, so nothing is acknowledged).
/// </summary>
public sealed class GatewayHealthCheck(GatewayService gateway, ShardHost shardHost) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var health = gateway.Health;
        var silo = shardHost.Health;
        var data = new Dictionary<string, object>
        {
            ["connected"] = health.Connected,
            ["terminals"] = health.Terminals,
            ["inFlightBatches"] = health.InFlightBatches,
            ["inFlightMessages"] = health.InFlightMessages,
            ["messagesReceived"] = health.MessagesReceived,
            ["messagesAcknowledged"] = health.MessagesAcknowledged,
            ["reportsAccepted"] = health.ReportsAccepted,
            ["reportsRejected"] = health.ReportsRejected,
            ["reportsDuplicate"] = health.ReportsDuplicate,
        };
        if (health.LastError is not null)
        {
            data["lastError"] = health.LastError;
        }

        string? problem = !health.Connected ? "not connected to the MQTT broker"
            : !health.RegistryLoaded ? "terminal registry not loaded"
            : silo.Degraded ? $"silo store failing, commits held back: {silo.LastError}"
            : null;
        return Task.FromResult(problem is null
            ? HealthCheckResult.Healthy($"{health.InFlightMessages} messages in flight", data)
            : HealthCheckResult.Degraded(problem, data: data));
    }
}
