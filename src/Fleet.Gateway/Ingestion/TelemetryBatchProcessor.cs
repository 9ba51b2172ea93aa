using System.Text;
using Fleet.Core.Telemetry;
using Fleet.Mqtt.Client;
using Fleet.Silo.Shards;

namespace Fleet.Gateway.Ingestion;

/// <summary>
/// The hot path, run by the single receive loop: topic → terminal → parse and validate → duplicate filter, then one
/// submission of the batch's accepted reports. Reuses its buffers from batch to batch (a fix buffer for the largest
/// backlog, a report buffer), allocates no string for a known terminal, and uses no LINQ. Not thread-safe.
/// A telemetry array holding a report older than the historic age (a store-and-forward upload) goes to the
/// backlog lane instead: deferred from the batch's acknowledgement, payload copied, submitted on its own to the
/// shards' lower-priority lane, so a day's upload cannot hold back anyone's live reports.
/// </summary>
internal sealed class TelemetryBatchProcessor
{
    private const int MaxUnknownIdBytes = 128;

    private readonly TerminalRegistry _registry;
    private readonly ShardHost _shardHost;
    private readonly GatewayMetrics _metrics;
    private readonly DuplicateFilter _duplicates;
    private readonly TelemetryLimits _limits;
    private readonly TelemetryFix[] _fixes;
    private readonly List<TelemetryReject> _parseRejects = [];
    private readonly List<StatusChange> _statuses = [];
    private readonly long _historicAgeMs;
    private InboundReport[] _reports = new InboundReport[1024];
    private int _reportCount;

    public TelemetryBatchProcessor(TerminalRegistry registry, ShardHost shardHost, GatewayMetrics metrics, int duplicateWindow, TelemetryLimits? limits = null, TimeSpan? historicAge = null)
    {
        _historicAgeMs = (long)(historicAge ?? new GatewayOptions().HistoricAge).TotalMilliseconds;
        _registry = registry;
        _shardHost = shardHost;
        _metrics = metrics;
        _duplicates = new DuplicateFilter(duplicateWindow);
        _limits = limits ?? TelemetryLimits.Default;
        _fixes = new TelemetryFix[_limits.MaxReportsPerPayload];
    }

    /// <summary>Forget the recent keys: reports the broker redelivers after a failure must reach the store again.</summary>
    public void ResetDuplicates() => _duplicates.Clear();

    /// <summary>
    /// Classifies every message of <paramref name="batch"/> and submits the accepted reports (in message order, split
    /// only around status changes so those keep their place). Never throws for a failed submission: the failure is
    /// put into the returned batch's pending tasks, where the ack loop meets it in order.
    /// </summary>
    public async ValueTask<InFlightBatch> ProcessAsync(MqttReceivedBatch batch, DateTimeOffset now, Func<List<TelemetryRejectRow>, CancellationToken, Task> writeRejects, CancellationToken cancellationToken)
    {
        var entry = new InFlightBatch(batch);
        var nowMs = now.ToUnixTimeMilliseconds();
        try
        {
            // Misses are rare (a terminal the broker admitted before our registry notice arrived, or a retired one):
            // classification stops at the first, the registry is refreshed once for the batch, and it resumes there
            // with misses then rejected. Known terminals never wait for this.
            var next = Classify(batch, 0, refreshed: false, entry, now, nowMs);
            if (next >= 0)
            {
                await _registry.RefreshAfterMissAsync(cancellationToken);
                Classify(batch, next, refreshed: true, entry, now, nowMs);
            }

            Interlocked.Add(ref _metrics.MessagesReceived, batch.Count);
            var backlogAccepted = 0;
            foreach (var message in entry.Backlog ?? [])
            {
                backlogAccepted += message.Accepted;
            }

            Interlocked.Add(ref _metrics.ReportsAccepted, entry.Accepted + backlogAccepted);
            Interlocked.Add(ref _metrics.ReportsDuplicate, entry.Duplicates);
            Interlocked.Add(ref _metrics.ReportsRejected, entry.Rejected);
            Interlocked.Add(ref _metrics.StatusUpdates, entry.Statuses);
            if (entry.Rejects is { } rejects)
            {
                // Started now, awaited before the ack: the reject is durable before the broker forgets the message.
                entry.Pending.Add(writeRejects(rejects, cancellationToken));
                foreach (var message in entry.Backlog ?? [])
                {
                    message.Pending.Add(entry.Pending[^1]);
                }
            }

            var start = 0;
            foreach (var status in _statuses)
            {
                if (status.ReportIndex > start)
                {
                    entry.Pending.Add(await _shardHost.SubmitAsync(_reports.AsMemory(start, status.ReportIndex - start), cancellationToken));
                    start = status.ReportIndex;
                }

                entry.Pending.Add(_shardHost.SetOnlineAsync(status.VehicleId, status.Online, nowMs, cancellationToken));
            }

            if (_reportCount > start)
            {
                entry.Pending.Add(await _shardHost.SubmitAsync(_reports.AsMemory(start, _reportCount - start), cancellationToken));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
            // Cancelled mid-submission, or the shard host is not running: this batch cannot be acknowledged.
            entry.Pending.Add(Task.FromException(ex));
        }
        finally
        {
            // The shards copied the reports; only the payload buffers behind the obd slices must live on.
            Array.Clear(_reports, 0, _reportCount);
            _reportCount = 0;
            _statuses.Clear();
        }

        return entry;
    }

    /// <summary>
    /// Classifies messages from <paramref name="from"/> on. Before the registry was <paramref name="refreshed"/> it stops
    /// at the first terminal it cannot attribute and returns that message's index; otherwise it returns -1.
    /// </summary>
    private int Classify(MqttReceivedBatch batch, int from, bool refreshed, InFlightBatch entry, DateTimeOffset now, long nowMs)
    {
        for (var index = from; index < batch.Count; index++)
        {
            var message = batch[index];
            var topic = message.TopicUtf8.Span;
            var kind = GatewayTopics.Parse(topic, out var idRange);
            if (kind == GatewayTopicKind.Other)
            {
                continue;
            }

            var payload = message.Payload;
            var idBytes = topic[idRange];
            var statusField = kind == GatewayTopicKind.Status ? "status" : null;
            var known = _registry.TryGet(idBytes, out var terminal);
            if (!refreshed && (!known || !terminal!.Enabled || terminal.VehicleId is null))
            {
                return index;
            }

            if (!known)
            {
                Reject(entry, DecodeUnknownId(idBytes), TelemetryRejectReason.UnknownTerminal, statusField, Head(payload.Span), now);
                continue;
            }

            if (!terminal!.Enabled)
            {
                Reject(entry, terminal.TerminalId, TelemetryRejectReason.TerminalDisabled, statusField, Head(payload.Span), now);
                continue;
            }

            if (terminal.VehicleId is not { } vehicleId)
            {
                // Registered but fitted to no vehicle: nothing to attribute the report to.
                Reject(entry, terminal.TerminalId, TelemetryRejectReason.UnknownTerminal, "vehicle", Head(payload.Span), now);
                continue;
            }

            if (kind == GatewayTopicKind.Status)
            {
                AddStatus(entry, terminal, vehicleId, payload.Span, now);
                continue;
            }

            _parseRejects.Clear();
            var count = TelemetryParser.Parse(payload.Span, nowMs, _fixes, _parseRejects, _limits);
            if (_parseRejects.Count > 0)
            {
                var head = Head(payload.Span);
                foreach (var reject in _parseRejects)
                {
                    Reject(entry, terminal.TerminalId, reject.Reason, reject.Field, head, now);
                }
            }

            if (IsHistoric(count, nowMs))
            {
                AddBacklog(batch, index, entry, vehicleId, count, payload.Span, nowMs);
                continue;
            }

            for (var i = 0; i < count; i++)
            {
                ref readonly var fix = ref _fixes[i];
                if (!_duplicates.TryAdd(vehicleId, fix.Ts, fix.Seq))
                {
                    entry.Duplicates++;
                    continue;
                }

                if (_reportCount == _reports.Length)
                {
                    Array.Resize(ref _reports, _reports.Length * 2);
                }

                _reports[_reportCount++] = new InboundReport(vehicleId, fix, nowMs, fix.HasObd ? payload[fix.Obd] : default);
                entry.Accepted++;
            }
        }

        return -1;
    }

    /// <summary>
    /// An array (the protocol's store-and-forward form) holding a report older than the historic age. A single old
    /// report stays live: that is what the broker's queue holds after a gateway restart, and its catch-up must run at
    /// full speed, in order, rather than one backlog message at a time.
    /// </summary>
    private bool IsHistoric(int count, long nowMs)
    {
        if (count < 2)
        {
            return false;
        }

        var cutoff = nowMs - _historicAgeMs;
        for (var i = 0; i < count; i++)
        {
            if (_fixes[i].Ts < cutoff)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Moves message <paramref name="index"/> to the backlog lane: its fixes (less duplicates) become reports on a copy
    /// of the payload, submitted at once to the shards' backlog lane, and the message leaves the batch's ack.
    /// </summary>
    private void AddBacklog(MqttReceivedBatch batch, int index, InFlightBatch entry, long vehicleId, int count, ReadOnlySpan<byte> payload, long nowMs)
    {
        byte[]? copy = null;
        var reports = new InboundReport[count];
        var accepted = 0;
        for (var i = 0; i < count; i++)
        {
            ref readonly var fix = ref _fixes[i];
            if (!_duplicates.TryAdd(vehicleId, fix.Ts, fix.Seq))
            {
                entry.Duplicates++;
                continue;
            }

            var obd = ReadOnlyMemory<byte>.Empty;
            if (fix.HasObd)
            {
                copy ??= payload.ToArray();
                obd = copy.AsMemory(fix.Obd);
            }

            reports[accepted++] = new InboundReport(vehicleId, fix, nowMs, obd);
        }

        var message = new BacklogMessage(batch.Defer(index), accepted);
        message.Pending.Add(_shardHost.SubmitBacklog(reports.AsMemory(0, accepted)));
        (entry.Backlog ??= []).Add(message);
    }

    private void AddStatus(InFlightBatch entry, TerminalInfo terminal, long vehicleId, ReadOnlySpan<byte> payload, DateTimeOffset now)
    {
        var value = payload.Trim(" \t\r\n"u8);
        if (value.IsEmpty)
        {
            return; // An empty retained publish clears the retained status; it says nothing about the terminal.
        }

        bool online;
        if (value.SequenceEqual("online"u8))
        {
            online = true;
        }
        else if (value.SequenceEqual("offline"u8))
        {
            online = false;
        }
        else
        {
            Reject(entry, terminal.TerminalId, TelemetryRejectReason.InvalidField, "status", Head(payload), now);
            return;
        }

        // Reports before it in this batch are submitted first, so the grain sees the two in arrival order.
        _statuses.Add(new StatusChange(_reportCount, vehicleId, online));
        entry.Statuses++;
    }

    private void Reject(InFlightBatch entry, string terminalId, TelemetryRejectReason reason, string? field, ReadOnlyMemory<byte> head, DateTimeOffset now)
    {
        (entry.Rejects ??= []).Add(new TelemetryRejectRow(terminalId, now, reason, field, head));
        entry.Rejected++;
        _metrics.CountReject(terminalId, reason);
    }

    // Copied: the row outlives the batch's pooled buffer if the batch fails and is dropped.
    private static ReadOnlyMemory<byte> Head(ReadOnlySpan<byte> payload) =>
        payload[..Math.Min(payload.Length, TelemetryRejectStore.PayloadHeadBytes)].ToArray();

    // Only unknown ids cost a string; a hostile topic level is cut short first.
    private static string DecodeUnknownId(ReadOnlySpan<byte> id) =>
        Encoding.UTF8.GetString(id[..Math.Min(id.Length, MaxUnknownIdBytes)]);

    private readonly record struct StatusChange(int ReportIndex, long VehicleId, bool Online);
}
