using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Fleet.Silo.Grains;
using Fleet.Silo.Persistence;
using Microsoft.Extensions.Logging;

namespace Fleet.Silo.Shards;

/// <summary>What every shard shares: settings, the store, the batcher, the read model and the sink.</summary>
internal sealed record ShardContext(
    SiloOptions Options,
    GrainSettings Settings,
    VehicleStateStore Store,
    PositionBatcher Batcher,
    ConcurrentDictionary<long, VehicleLiveState> Live,
    ILiveStateSink Sink,
    TimeProvider TimeProvider,
    StoreHealth Health,
    ILogger Logger);

/// <summary>
/// One shard: a bounded queue and the single loop that owns its grains. Each pass drains what is queued (up to a
/// batch), activates the missing grains with one query, applies the reports per vehicle in event-time order and
/// the commands where they arrived between them, hands the rows to the batcher, and publishes the changed states.
/// Only this loop touches the grains, so they need no locks.
/// Backlog reports (historic uploads) wait in a second queue, the lower-priority lane: a pass takes them only after
/// the live queue is drained, and only within the <c>BacklogRowsInFlight</c> backlog rows all shards share in the batcher,
/// so a day's upload never holds live reports behind it. The lane is FIFO, so each vehicle's backlog keeps its order.
/// While a vehicle has reports in the lane, its live reports join the lane behind them: applied first, they would move
/// its newest fix ahead and turn the rest of its own backlog into late reports (no mileage, motion or lot tracking).
/// </summary>
internal sealed partial class VehicleShard
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly ShardContext _context;
    private readonly Channel<ShardMessage> _queue;
    // Not SingleReader: the loop reads Count, which the single-reader unbounded channel does not offer.
    private readonly Channel<ShardMessage> _backlog = Channel.CreateUnbounded<ShardMessage>();
    // Reports in the backlog lane per vehicle, counted with the write (by submitters, under the lock) and uncounted as
    // the loop takes them, so a live report the loop drains after its vehicle's backlog was queued always sees it.
    private readonly Dictionary<long, int> _laneReports = [];
    private int _laneTotal;
    private readonly Dictionary<long, VehicleGrain> _grains = [];
    private readonly ShardMessage[] _drained;
    private readonly PositionRow[] _rows;
    private readonly Submission[] _owners;
    private readonly List<PendingCommand> _commands = [];
    private readonly HashSet<long> _pinned = [];
    private readonly List<long> _missing = [];
    private readonly List<VehicleLiveState> _changed = [];
    private readonly List<long> _idle = [];
    private readonly long _idleMs;
    private int _activeGrains;
    // Backlog rows this pass reserved and has not handed to the batcher yet: a failed pass gives them back.
    private int _backlogUnappended;
    private Task _loop = Task.CompletedTask;

    public VehicleShard(int index, ShardContext context)
    {
        Index = index;
        _context = context;
        var options = context.Options;
        _queue = Channel.CreateBounded<ShardMessage>(new BoundedChannelOptions(options.ShardQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var drainSize = Math.Min(options.MaxBatchRows, Math.Min(options.ShardQueueCapacity, 2048));
        _drained = new ShardMessage[drainSize];
        _rows = new PositionRow[drainSize];
        _owners = new Submission[drainSize];
        _idleMs = (long)options.IdleDeactivation.TotalMilliseconds;
    }

    public int Index { get; }

    public ChannelWriter<ShardMessage> Writer => _queue.Writer;

    /// <summary>
    /// Queues a report in the backlog lane. Unbounded here: the gateway bounds what it has submitted and not yet
    /// acknowledged. A writer nudges the loop afterwards with <see cref="ShardMessage.Nudge"/> on <see cref="Writer"/>.
    /// </summary>
    public bool TryWriteBacklog(ShardMessage message)
    {
        lock (_laneReports)
        {
            ref var queued = ref CollectionsMarshal.GetValueRefOrAddDefault(_laneReports, message.Report.VehicleId, out _);
            if (!_backlog.Writer.TryWrite(message))
            {
                if (queued == 0)
                {
                    _laneReports.Remove(message.Report.VehicleId);
                }

                return false;
            }

            queued++;
            Volatile.Write(ref _laneTotal, _laneTotal + 1);
            return true;
        }
    }

    /// <summary>Backlog reports waiting in this shard.</summary>
    public int BacklogDepth => _backlog.Reader.Count;

    /// <summary>Takes no more messages in either lane; the loop ends once both are drained.</summary>
    public void Complete()
    {
        _backlog.Writer.TryComplete();
        _queue.Writer.TryComplete();
    }

    public int ActiveGrains => Volatile.Read(ref _activeGrains);

    /// <summary>Messages waiting in the queue (for the queue-depth gauge).</summary>
    public int QueueDepth => _queue.Reader.Count;

    /// <summary>Completes when the queue is completed and drained, or the loop is aborted.</summary>
    public Task Completion => _loop;

    public void Start(CancellationToken abort) => _loop = Task.Run(() => RunAsync(abort), CancellationToken.None);

    /// <summary>The dirty snapshots, for the final flush. Only once the loop has ended: the grains are its alone before.</summary>
    public IEnumerable<(VehicleGrain Grain, StoredSnapshot Snapshot)> CollectDirtySnapshotsAfterStop()
    {
        if (!_loop.IsCompleted)
        {
            throw new InvalidOperationException("The shard loop is still running.");
        }

        return _grains.Values.Where(g => g.IsDirty).Select(g => (g, ToStored(g))).ToList();
    }

    private async Task RunAsync(CancellationToken abort)
    {
        var reader = _queue.Reader;
        var backlog = _backlog.Reader;
        var liveDone = false;
        var count = 0;
        try
        {
            while (true)
            {
                count = 0;
                while (count < _drained.Length && reader.TryRead(out var message))
                {
                    if (!message.IsNudge && !TryFollowBacklog(message))
                    {
                        _drained[count++] = message;
                    }
                }

                // Live first: backlog only fills what room this pass has left, within the backlog allowance that all
                // shards share (reserved from the batcher, and held until the rows' COPY is done).
                var backlogCount = 0;
                var backlogWaiting = backlog.Count > 0;
                if (backlogWaiting && count < _drained.Length)
                {
                    var take = _context.Batcher.ReserveBacklog(Math.Min(_drained.Length - count, _context.Options.BacklogRowsInFlight), force: liveDone);
                    while (backlogCount < take && backlog.TryRead(out var message))
                    {
                        _drained[count++] = message;
                        backlogCount++;
                        LeftLane(message.Report.VehicleId);
                    }

                    _context.Batcher.ReleaseBacklog(take - backlogCount);
                    _backlogUnappended = backlogCount;
                }

                if (count == 0)
                {
                    if (liveDone)
                    {
                        if (!await backlog.WaitToReadAsync(abort))
                        {
                            break;
                        }
                    }
                    else if (backlogWaiting)
                    {
                        // Held back by the allowance: wake for a live message or when a COPY frees room.
                        var liveWaiting = reader.WaitToReadAsync(abort).AsTask();
                        await Task.WhenAny(liveWaiting, _context.Batcher.WaitForBacklogRoomAsync().WaitAsync(abort));
                        abort.ThrowIfCancellationRequested();

                        // A completed live queue answers at once: without this the loop would spin until the COPY.
                        liveDone = liveWaiting.IsCompletedSuccessfully && !liveWaiting.Result;
                    }
                    else if (!await reader.WaitToReadAsync(abort))
                    {
                        liveDone = true;
                    }

                    continue;
                }

                try
                {
                    await ProcessAsync(count, backlogCount, abort);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !abort.IsCancellationRequested)
                {
                    // A bug in a turn must not stop the shard: its vehicles would stall for good. Fail this drain's
                    // submissions (the broker redelivers them) and carry on with the next.
                    LogDrainFailed(_context.Logger, Index, count, ex);
                    FailDrained(count, ex);
                    _context.Batcher.ReleaseBacklog(_backlogUnappended);
                }

                _backlogUnappended = 0;

                Clear(count);
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            var stopped = new InvalidOperationException("The shard host stopped before these reports were stored.");
            FailDrained(count, stopped);
            foreach (var lane in (ReadOnlySpan<ChannelReader<ShardMessage>>)[reader, backlog])
            {
                while (lane.TryRead(out var message))
                {
                    message.Submission?.Fail(stopped);
                    message.Command?.TrySetCanceled(abort);
                }
            }
        }
    }

    /// <summary>Moves a live report to the backlog lane, behind the reports its vehicle has there, if it has any.</summary>
    private bool TryFollowBacklog(ShardMessage message)
    {
        if (message.Command is not null || Volatile.Read(ref _laneTotal) == 0)
        {
            return false;
        }

        lock (_laneReports)
        {
            ref var queued = ref CollectionsMarshal.GetValueRefOrNullRef(_laneReports, message.Report.VehicleId);
            if (Unsafe.IsNullRef(ref queued) || !_backlog.Writer.TryWrite(message))
            {
                return false; // No backlog for it, or stopping: it is applied live.
            }

            queued++;
            Volatile.Write(ref _laneTotal, _laneTotal + 1);
            return true;
        }
    }

    private void LeftLane(long vehicleId)
    {
        lock (_laneReports)
        {
            ref var queued = ref CollectionsMarshal.GetValueRefOrNullRef(_laneReports, vehicleId);
            if (!Unsafe.IsNullRef(ref queued) && --queued == 0)
            {
                _laneReports.Remove(vehicleId);
            }

            Volatile.Write(ref _laneTotal, _laneTotal - 1);
        }
    }

    private async Task ProcessAsync(int count, int backlogCount, CancellationToken abort)
    {
        var reports = SplitAndSort(count);
        if (_missing.Count > 0)
        {
            await ActivateAsync(abort);
        }

        // Reports and commands take effect in arrival order: a status sent before a report must not win over it.
        var nowMs = _context.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var applied = 0;
        foreach (var pending in _commands)
        {
            Apply(applied, pending.ReportsBefore, nowMs);
            applied = pending.ReportsBefore;
            RunCommand(pending.Command, nowMs);
        }

        Apply(applied, reports, nowMs);
        if (reports > 0)
        {
            // Handed over: the batcher ends the backlog rows' reservation once they are written.
            _backlogUnappended = 0;
            await _context.Batcher.AppendAsync(_rows.AsMemory(0, reports), _owners.AsMemory(0, reports), abort, backlogCount);
        }

        Publish();

        // Completed only now, so a caller awaiting a command sees its effect in the live states.
        foreach (var pending in _commands)
        {
            pending.Command.TrySetResult();
        }
    }

    /// <summary>
    /// Moves the reports to the front; sets the commands aside with the number of reports that arrived before each;
    /// sorts each run of reports between two commands by (vehicle, ts, seq), so each vehicle's slice applies in
    /// event-time order; and lists the vehicles whose grains are not active.
    /// </summary>
    private int SplitAndSort(int count)
    {
        var reports = 0;
        var runStart = 0;
        var sweeps = false;
        for (var i = 0; i < count; i++)
        {
            if (_drained[i].Command is { } command)
            {
                _commands.Add(new PendingCommand(command, reports));
                _drained.AsSpan(runStart, reports - runStart).Sort(default(ByVehicleAndEventTime));
                runStart = reports;
                sweeps |= command is SweepCommand;
            }
            else
            {
                _drained[reports++] = _drained[i];
            }
        }

        _drained.AsSpan(runStart, reports - runStart).Sort(default(ByVehicleAndEventTime));
        var span = _drained.AsSpan(0, reports);
        for (var i = 0; i < span.Length; i++)
        {
            var vehicleId = span[i].Report.VehicleId;
            if ((i == 0 || span[i - 1].Report.VehicleId != vehicleId) && !_grains.ContainsKey(vehicleId)
                && (_commands.Count == 0 || !_missing.Contains(vehicleId)))
            {
                _missing.Add(vehicleId);
            }

            if (sweeps)
            {
                _pinned.Add(vehicleId);
            }
        }

        foreach (var pending in _commands)
        {
            if (pending.Command.VehicleId is { } vehicleId)
            {
                if (!_grains.ContainsKey(vehicleId) && !_missing.Contains(vehicleId))
                {
                    _missing.Add(vehicleId);
                }

                if (sweeps)
                {
                    _pinned.Add(vehicleId);
                }
            }
        }

        return reports;
    }

    /// <summary>Loads the missing grains' snapshots in one query, retrying while the database is unreachable.</summary>
    private async Task ActivateAsync(CancellationToken abort)
    {
        var ids = _missing.ToArray();
        List<LoadedSnapshot> loaded;
        var delay = FirstRetryDelay;
        while (true)
        {
            try
            {
                loaded = await _context.Store.LoadAsync(ids, abort);
                _context.Health.Succeeded(StoreOperation.StateLoad);
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !abort.IsCancellationRequested)
            {
                _context.Health.Failed(StoreOperation.StateLoad, ex, _context.TimeProvider);
                LogActivationFailed(_context.Logger, Index, ids.Length, delay.TotalMilliseconds, ex);
                await Task.Delay(delay, _context.TimeProvider, abort);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _context.Options.StoreRetryMaxDelay.Ticks));
            }
        }

        var nowMs = _context.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var row in loaded)
        {
            if (row.Snapshot is null)
            {
                // Unreadable: start afresh but above the stored version, so the next snapshot replaces it.
                LogUnreadableSnapshot(_context.Logger, row.VehicleId, row.Version);
                _grains[row.VehicleId] = new VehicleGrain(row.VehicleId, _context.Settings, nowMs, row.Version);
                continue;
            }

            var grain = VehicleGrain.FromSnapshot(row.VehicleId, row.Version, row.Snapshot, _context.Settings, nowMs);
            _grains[row.VehicleId] = grain;
            _changed.Add(grain.GetLiveState());
        }

        foreach (var id in ids)
        {
            if (!_grains.ContainsKey(id))
            {
                _grains[id] = new VehicleGrain(id, _context.Settings, nowMs);
            }
        }

        _missing.Clear();
        Volatile.Write(ref _activeGrains, _grains.Count);
    }

    /// <summary>Applies the reports [<paramref name="start"/>, <paramref name="end"/>) and fills their rows.</summary>
    private void Apply(int start, int end, long nowMs)
    {
        VehicleGrain? grain = null;
        var versionBefore = 0L;
        for (var i = start; i < end; i++)
        {
            var report = _drained[i].Report;
            if (grain is null || grain.VehicleId != report.VehicleId)
            {
                AddIfChanged(grain, versionBefore);
                grain = _grains[report.VehicleId];
                versionBefore = grain.Version;
            }

            grain.ApplyReport(report.Fix, report.ReceivedAtMs, nowMs);
            _rows[i] = new PositionRow(report.VehicleId, report.Fix, report.ReceivedAtMs, report.ObdJson);
            _owners[i] = _drained[i].Submission!;
        }

        AddIfChanged(grain, versionBefore);
    }

    private void AddIfChanged(VehicleGrain? grain, long versionBefore)
    {
        if (grain is not null && grain.HasFix && grain.Version != versionBefore)
        {
            _changed.Add(grain.GetLiveState());
        }
    }

    private void RunCommand(ShardCommand command, long nowMs)
    {
        switch (command)
        {
            case SetOnlineCommand setOnline:
                // Activated for this drain and pinned against the sweep, so it is here; should that ever break,
                // fail this command alone rather than every submission of the drain.
                if (!_grains.TryGetValue(setOnline.VehicleId!.Value, out var grain))
                {
                    command.TrySetException(new InvalidOperationException($"Vehicle {setOnline.VehicleId} is not active in shard {Index}."));
                    break;
                }

                var before = grain.Version;
                grain.SetOnline(setOnline.Online, setOnline.AtMs, nowMs);
                AddIfChanged(grain, before);
                break;
            case SweepCommand sweep:
                Sweep(sweep, nowMs);
                break;
            case ActivateCommand:
                // Activated before the commands run, which published its restored live state: nothing more to do.
                break;
            default:
                throw new InvalidOperationException($"Unknown shard command {command.GetType().Name}");
        }
    }

    private void Sweep(SweepCommand sweep, long nowMs)
    {
        foreach (var grain in _grains.Values)
        {
            var before = grain.Version;
            grain.Tick(nowMs);
            AddIfChanged(grain, before);
            if (grain.IsDirty)
            {
                if (sweep.CollectSnapshots)
                {
                    sweep.Snapshots.Add((grain, ToStored(grain)));
                }
            }
            else if (nowMs - grain.LastActivityAtMs >= _idleMs && !_pinned.Contains(grain.VehicleId))
            {
                // Only clean grains go: the stored snapshot is then exactly what re-activation will find. Grains
                // this drain still has reports or commands for stay: they were activated for it and are used after.
                _idle.Add(grain.VehicleId);
            }
        }

        foreach (var id in _idle)
        {
            _grains.Remove(id);
        }

        _idle.Clear();
        Volatile.Write(ref _activeGrains, _grains.Count);
    }

    private void Publish()
    {
        if (_changed.Count == 0)
        {
            return;
        }

        foreach (var state in _changed)
        {
            _context.Live[state.VehicleId] = state;
        }

        try
        {
            _context.Sink.OnChanged(CollectionsMarshal.AsSpan(_changed));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Live frames are best effort; a failing sink must not hold back storage or acknowledgements.
            LogSinkFailed(_context.Logger, Index, ex);
        }
    }

    private static StoredSnapshot ToStored(VehicleGrain grain) =>
        new(grain.VehicleId, grain.Version, VehicleStateStore.Serialize(grain.CreateSnapshot()));

    private void FailDrained(int count, Exception exception)
    {
        for (var i = 0; i < count; i++)
        {
            _drained[i].Submission?.Fail(exception);
            _drained[i].Command?.TrySetException(exception);
        }

        foreach (var pending in _commands)
        {
            pending.Command.TrySetException(exception);
        }
    }

    private void Clear(int count)
    {
        // Drop the references to payload buffers and submissions so they can be collected.
        Array.Clear(_drained, 0, count);
        Array.Clear(_rows, 0, count);
        Array.Clear(_owners, 0, count);
        _commands.Clear();
        _pinned.Clear();
        _changed.Clear();
        _missing.Clear();
    }

    /// <summary>A drained command and how many of the drain's reports arrived before it.</summary>
    private readonly record struct PendingCommand(ShardCommand Command, int ReportsBefore);

    private readonly struct ByVehicleAndEventTime : IComparer<ShardMessage>
    {
        public int Compare(ShardMessage x, ShardMessage y)
        {
            var c = x.Report.VehicleId.CompareTo(y.Report.VehicleId);
            if (c == 0)
            {
                c = x.Report.Fix.Ts.CompareTo(y.Report.Fix.Ts);
            }

            return c != 0 ? c : x.Report.Fix.Seq.CompareTo(y.Report.Fix.Seq);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: loading {Count} grain snapshots failed; retrying in {DelayMs} ms")]
    private static partial void LogActivationFailed(ILogger logger, int shard, int count, double delayMs, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Vehicle {VehicleId}: the stored snapshot (version {Version}) is unreadable; the grain starts afresh")]
    private static partial void LogUnreadableSnapshot(ILogger logger, long vehicleId, long version);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shard {Shard}: processing {Count} messages failed; their submissions fail and will be redelivered")]
    private static partial void LogDrainFailed(ILogger logger, int shard, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: the live-state sink failed")]
    private static partial void LogSinkFailed(ILogger logger, int shard, Exception exception);
}
