using System.Buffers;
using System.Collections.Concurrent;
using Fleet.Silo.Grains;
using Fleet.Silo.Shards;
using Fleet.Web.Auth;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Web.Live;

/// <summary>One connection's subscription. Replaced whole on re-subscribe; only bbox ones carry mutable state.</summary>
internal sealed class LiveSubscription(HubCallerContext connection, UserScope user, LiveFilter filter)
{
    public string ConnectionId { get; } = connection.ConnectionId;

    /// <summary>Kept so the session recheck can close the connection, not only end the subscription.</summary>
    public HubCallerContext Connection { get; } = connection;

    /// <summary>The session the filter was granted to; rechecked against <c>users</c> while the subscription lasts.</summary>
    public UserScope User { get; } = user;

    public LiveFilter Filter { get; } = filter;

    public string? GroupKey { get; } = filter.GroupKey;

    /// <summary>Guards <see cref="Inside"/> and <see cref="Active"/> between the hub (snapshot) and the frame loop.</summary>
    public Lock Gate { get; } = new();

    /// <summary>Bbox only: the vehicles the client was last told are inside, so leaving ones go out as removed.</summary>
    public HashSet<long>? Inside { get; set; }

    public bool Active { get; set; } = true;
}

/// <summary>
/// The live fan-out. The shard host hands it every changed state (<see cref="OnChanged"/>, lock-free, never blocks);
/// it keeps the newest state per vehicle in a dirty map, and every <see cref="LiveOptions.FrameInterval"/> drains
/// the map and sends each subscription the changes in its filter as one <c>frame</c>. Subscriptions with the same
/// filter share a SignalR group, so a frame is built and serialised once for all of them; bbox subscriptions are
/// per connection. The filter includes the user's department limit, so what a user receives is decided here, on
/// every row, not only when they subscribed. Every <see cref="LiveOptions.SessionRecheckInterval"/> the loop also
/// rechecks the subscribers' sessions as REST does on every request (enabled, same role, same department) and
/// closes the connections whose session no longer stands: the cookie alone would keep them open for hours.
/// </summary>
public sealed partial class LiveBroadcaster : BackgroundService, ILiveStateSink
{
    private static readonly long[] NoneRemoved = [];

    private readonly IHubContext<LiveFrameHub> _hub;
    private readonly NpgsqlDataSource _dataSource;
    private readonly LiveRegistry _registry;
    private readonly LiveOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<LiveBroadcaster> _logger;
    private readonly ConcurrentDictionary<long, VehicleLiveState> _dirty = new();
    private readonly ConcurrentDictionary<string, LiveSubscription> _subscriptions = new(StringComparer.Ordinal);

    // Owned by the frame loop; reused from round to round.
    private readonly List<VehicleLiveState> _batch = [];
    private readonly List<(bool Known, VehiclePlace Place)> _places = [];
    private readonly Dictionary<string, LiveFilter> _groups = new(StringComparer.Ordinal);
    private readonly List<LiveSubscription> _boxes = [];
    private readonly List<long> _removed = [];
    private readonly List<Task> _sends = [];

    private int _subscribers;
    private long _seq;

    public LiveBroadcaster(
        IHubContext<LiveFrameHub> hub,
        NpgsqlDataSource dataSource,
        LiveRegistry registry,
        IOptions<LiveOptions> options,
        TimeProvider timeProvider,
        ILogger<LiveBroadcaster> logger)
    {
        _hub = hub;
        _dataSource = dataSource;
        _registry = registry;
        _options = options.Value;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>The number of the latest frame round; a snapshot carries the one current when it was taken.</summary>
    public long Seq => Interlocked.Read(ref _seq);

    /// <summary>Connections with a subscription.</summary>
    public int Subscribers => Volatile.Read(ref _subscribers);

    public void OnChanged(ReadOnlySpan<VehicleLiveState> states)
    {
        // Nobody watching: nothing to keep. A subscriber's snapshot, taken after it registered, covers what is skipped.
        if (Volatile.Read(ref _subscribers) == 0)
        {
            return;
        }

        foreach (var state in states)
        {
            // A vehicle lives in one shard, whose loop calls in order: the last write is the newest state.
            _dirty[state.VehicleId] = state;
        }
    }

    /// <summary>
    /// Makes <paramref name="filter"/> the connection's one subscription (replacing any previous one) and returns the
    /// snapshot of <paramref name="states"/> in it. The subscription and its group are in place before the snapshot's
    /// seq is read, and a round drains the dirty map before it takes its seq, so: a change missing from the snapshot
    /// comes in a frame with a greater seq, and a frame with a seq up to the snapshot's holds nothing the snapshot
    /// lacks (or belongs to the previous scope). Clients may drop those.
    /// </summary>
    public async Task<LiveSnapshot> SubscribeAsync(
        HubCallerContext connection,
        UserScope user,
        LiveFilter filter,
        IEnumerable<VehicleLiveState> states,
        CancellationToken cancellationToken)
    {
        var connectionId = connection.ConnectionId;
        var subscription = new LiveSubscription(connection, user, filter);
        _subscriptions.TryGetValue(connectionId, out var previous);
        _subscriptions[connectionId] = subscription;
        if (previous is null)
        {
            Interlocked.Increment(ref _subscribers);
        }
        else
        {
            Deactivate(previous);
        }

        if (previous?.GroupKey is { } oldKey && oldKey != subscription.GroupKey)
        {
            await _hub.Groups.RemoveFromGroupAsync(connectionId, oldKey, cancellationToken);
        }

        if (subscription.GroupKey is { } key && key != previous?.GroupKey)
        {
            await _hub.Groups.AddToGroupAsync(connectionId, key, cancellationToken);
        }

        var registry = _registry.Current;
        var seq = Seq;
        var rows = new List<VehicleLiveState>();
        lock (subscription.Gate)
        {
            foreach (var state in states)
            {
                if (filter.Matches(state, registry))
                {
                    rows.Add(state);
                }
            }

            if (filter.Kind == LiveFilterKind.Bbox)
            {
                subscription.Inside = rows.Select(r => r.VehicleId).ToHashSet();
            }
        }

        LogSubscribed(_logger, connectionId, filter.Kind, filter.Id, filter.DepartmentLimit, rows.Count);
        return new LiveSnapshot(seq, LiveRow.Fields, new LiveRows([.. rows], rows.Count, pooled: false));
    }

    /// <summary>Ends the connection's subscription, if any; no frame is sent to it afterwards.</summary>
    public async Task UnsubscribeAsync(string connectionId, CancellationToken cancellationToken)
    {
        if (!_subscriptions.TryRemove(connectionId, out var previous))
        {
            return;
        }

        Interlocked.Decrement(ref _subscribers);
        Deactivate(previous);
        if (previous.GroupKey is { } key)
        {
            await _hub.Groups.RemoveFromGroupAsync(connectionId, key, cancellationToken);
        }
    }

    /// <summary>
    /// Rechecks the sessions of every subscriber with one query and ends the subscriptions whose session no longer
    /// stands, closing their connections. Returns the number closed. A user missing from <c>users</c> is stale too.
    /// </summary>
    internal async Task<int> RecheckSessionsAsync(CancellationToken cancellationToken)
    {
        if (_subscriptions.IsEmpty)
        {
            return 0;
        }

        // Taken before the query: a subscription made after it was checked by its own Subscribe, later than this.
        var subscriptions = _subscriptions.Values.ToList();
        var userIds = subscriptions.Select(s => s.User.UserId).Distinct().ToArray();
        var current = new Dictionary<int, (bool Enabled, string Role, int? DepartmentId)>(userIds.Length);
        await using (var command = _dataSource.CreateCommand("SELECT id, enabled, role, department_id FROM users WHERE id = ANY($1)"))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = userIds });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                current[reader.GetInt32(0)] = (reader.GetBoolean(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetInt32(3));
            }
        }

        var closed = 0;
        foreach (var subscription in subscriptions)
        {
            var user = subscription.User;
            // The same rule as AccountStore.IsSessionCurrentAsync, which REST applies to every request.
            if (current.TryGetValue(user.UserId, out var row) && row.Enabled && row.Role == user.Role && row.DepartmentId == user.DepartmentId)
            {
                continue;
            }

            LogSessionEnded(_logger, subscription.ConnectionId, user.Username, user.Role, user.DepartmentId);
            await EndAsync(subscription, cancellationToken);
            closed++;
        }

        return closed;
    }

    /// <summary>
    /// Ends <paramref name="subscription"/> (if it is still the connection's) and closes its connection. The page
    /// then reconnects, and the reconnect meets the session check of the cookie, like any REST request.
    /// </summary>
    internal async Task EndAsync(LiveSubscription subscription, CancellationToken cancellationToken)
    {
        if (_subscriptions.TryRemove(new KeyValuePair<string, LiveSubscription>(subscription.ConnectionId, subscription)))
        {
            Interlocked.Decrement(ref _subscribers);
            Deactivate(subscription);
        }

        // First, so the connection is on its way out before anything else is awaited; leaving the group then only
        // spares the frames a closing socket would not deliver anyway.
        subscription.Connection.Abort();
        if (subscription.GroupKey is { } key)
        {
            await _hub.Groups.RemoveFromGroupAsync(subscription.ConnectionId, key, cancellationToken);
        }
    }

    /// <summary>
    /// One round: drains the dirty map and sends each filter's changes. Returns the number of frames sent (a frame to
    /// a group counts once). The loop calls it every <see cref="LiveOptions.FrameInterval"/>; never concurrently.
    /// </summary>
    internal async Task<int> SendFramesAsync(CancellationToken cancellationToken)
    {
        _batch.Clear();
        foreach (var entry in _dirty)
        {
            // Removes only if unchanged: a state written since stays dirty for the next round, so none is lost.
            if (_dirty.TryRemove(entry))
            {
                _batch.Add(entry.Value);
            }
        }

        if (_batch.Count == 0 || Volatile.Read(ref _subscribers) == 0)
        {
            return 0;
        }

        // Only after the drain: see SubscribeAsync for why frames and snapshots can be ordered by seq.
        var seq = Interlocked.Increment(ref _seq);
        var registry = _registry.Current;
        _places.Clear();
        foreach (var state in _batch)
        {
            var known = registry.Vehicles.TryGetValue(state.VehicleId, out var place);
            _places.Add((known, place));
        }

        _groups.Clear();
        _boxes.Clear();
        foreach (var entry in _subscriptions)
        {
            var subscription = entry.Value;
            if (subscription.GroupKey is { } key)
            {
                _groups.TryAdd(key, subscription.Filter);
            }
            else if (subscription.Filter.Kind == LiveFilterKind.Bbox)
            {
                _boxes.Add(subscription);
            }
        }

        _sends.Clear();
        foreach (var (key, filter) in _groups)
        {
            if (Collect(filter, null) is { } rows)
            {
                _sends.Add(SendAsync(_hub.Clients.Group(key), new LiveFrame(seq, rows, NoneRemoved), cancellationToken));
            }
        }

        foreach (var box in _boxes)
        {
            LiveFrame? frame = null;
            lock (box.Gate)
            {
                // Not yet snapshotted: its snapshot, read after this batch was drained, already holds these changes.
                if (box.Active && box.Inside is { } inside)
                {
                    _removed.Clear();
                    var rows = Collect(box.Filter, inside);
                    if (rows is not null || _removed.Count > 0)
                    {
                        frame = new LiveFrame(seq, rows ?? LiveRows.Empty, _removed.Count > 0 ? [.. _removed] : NoneRemoved);
                    }
                }
            }

            if (frame is not null)
            {
                _sends.Add(SendAsync(_hub.Clients.Client(box.ConnectionId), frame, cancellationToken));
            }
        }

        if (_sends.Count > 0)
        {
            try
            {
                await Task.WhenAll(_sends).WaitAsync(_options.SendTimeout, _timeProvider, cancellationToken);
            }
            catch (TimeoutException)
            {
                LogSlowRound(_logger, _sends.Count, _options.SendTimeout.TotalMilliseconds);
            }
        }

        return _sends.Count;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var recheck = Task.CompletedTask;
        var lastRecheck = _timeProvider.GetTimestamp();
        while (!stoppingToken.IsCancellationRequested)
        {
            var started = _timeProvider.GetTimestamp();
            // Beside the frames rather than before them: a slow database must not hold back everyone's map. At most
            // one recheck runs at a time.
            if (recheck.IsCompleted && _timeProvider.GetElapsedTime(lastRecheck, started) >= _options.SessionRecheckInterval)
            {
                lastRecheck = started;
                recheck = RecheckSafelyAsync(stoppingToken);
            }

            try
            {
                await SendFramesAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // A bad round must not end live updates for good.
                LogRoundFailed(_logger, ex);
            }

            // Measured from the start of the round, so rounds (and each connection's frames) are an interval apart.
            var wait = _options.FrameInterval - _timeProvider.GetElapsedTime(started);
            try
            {
                await Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, _timeProvider, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
        }

        await recheck;
    }

    private async Task RecheckSafelyAsync(CancellationToken stoppingToken)
    {
        try
        {
            await RecheckSessionsAsync(stoppingToken);
        }
        catch (Exception ex)
        {
            // Connections stay open until the next recheck: closing them all on a database blip would only have every
            // page reconnect into the same outage. New subscriptions are still checked one by one. (Failing while
            // shutting down is no news.)
            if (!stoppingToken.IsCancellationRequested)
            {
                LogRecheckFailed(_logger, ex);
            }
        }
    }

    private static void Deactivate(LiveSubscription subscription)
    {
        lock (subscription.Gate)
        {
            subscription.Active = false;
        }
    }

    /// <summary>
    /// The batch's states in <paramref name="filter"/>, in a pooled array (null when none). With
    /// <paramref name="inside"/> (bbox), also tracks who is inside and lists the ones that left in <see cref="_removed"/>.
    /// </summary>
    private LiveRows? Collect(LiveFilter filter, HashSet<long>? inside)
    {
        VehicleLiveState[]? rows = null;
        var count = 0;
        for (var i = 0; i < _batch.Count; i++)
        {
            var state = _batch[i];
            var (known, place) = _places[i];
            if (filter.Matches(state, known, place))
            {
                rows ??= ArrayPool<VehicleLiveState>.Shared.Rent(_batch.Count - i);
                rows[count++] = state;
                inside?.Add(state.VehicleId);
            }
            else if (inside is not null && inside.Remove(state.VehicleId))
            {
                _removed.Add(state.VehicleId);
            }
        }

        return rows is null ? null : new LiveRows(rows, count, pooled: true);
    }

    private async Task SendAsync(IClientProxy client, LiveFrame frame, CancellationToken cancellationToken)
    {
        try
        {
            await client.SendAsync(LiveRow.MethodName, frame, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogSendFailed(_logger, ex);
        }
        finally
        {
            // Only now: until every connection has written it, the frame's rows are still being read.
            frame.Rows.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Connection {ConnectionId} subscribed to {Kind} {Id} (department limit {DepartmentLimit}): {Rows} vehicles in the snapshot")]
    private static partial void LogSubscribed(ILogger logger, string connectionId, LiveFilterKind kind, int id, int? departmentLimit, int rows);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Frames} live frames were not all written within {TimeoutMs} ms; the next round starts anyway")]
    private static partial void LogSlowRound(ILogger logger, int frames, double timeoutMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sending a live frame failed")]
    private static partial void LogSendFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live connection {ConnectionId} of {Username} closed: the session ({Role}, department {DepartmentId}) no longer stands")]
    private static partial void LogSessionEnded(ILogger logger, string connectionId, string username, string role, int? departmentId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rechecking the live subscribers' sessions failed; retried at the next interval")]
    private static partial void LogRecheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "A live frame round failed")]
    private static partial void LogRoundFailed(ILogger logger, Exception exception);
}
