using Fleet.Core.Telemetry;

namespace Fleet.Silo.Grains;

/// <summary>How a report related to what the grain had already seen.</summary>
public enum ReportOutcome
{
    /// <summary>Newer than the newest fix: the live state moved.</summary>
    Applied,

    /// <summary>Older than the newest fix (store-and-forward): stored, but the live marker stays.</summary>
    Late,

    /// <summary>The same (ts, seq) as the newest fix: a redelivery; nothing changed.</summary>
    Duplicate,
}

/// <summary>
/// One vehicle's grain: one activation per vehicle, owned by exactly one shard loop, which calls it one message
/// at a time (a turn). The turn methods are synchronous on purpose: a turn only touches memory, and the shard does
/// the I/O around it (activation from <c>vehicle_state</c>, position storage, snapshots), as Orleans' runtime and
/// storage providers would. Moving to Orleans means wrapping these in ValueTask grain methods; the rules stay.
/// Not thread-safe, except <see cref="MarkPersisted"/> and <see cref="IsDirty"/>, which the snapshot writer uses.
/// </summary>
public sealed class VehicleGrain
{
    private const long NoStop = -1;

    // Odometer deltas above what 300 km/h could cover (plus 1 km of slack) are an odometer reset or a swapped
    // terminal, not driving: such segments fall back to the distance between the fixes.
    private const double MaxPlausibleKmPerMs = 300.0 / 3_600_000;

    private readonly GrainSettings _settings;

    private bool _hasFix;
    private long _ts;
    private uint _seq;
    private double _lat;
    private double _lon;
    private float? _spd;
    private short? _hdg;
    private bool? _acc;
    private double? _odo;
    private double? _lastFixOdo;
    private MotionState _motion;
    private long _stoppedSinceMs = NoStop;
    private bool _online;
    private long _lastReportAtMs;
    private long _lastHeardAtMs;
    private double _todayKm;
    private DateOnly _todayDate;
    private long _dayStartMs;
    private long _dayEndMs;
    private bool? _inLot;
    private long _version;
    private long _persistedVersion;
    private VehicleLiveState? _published;

    /// <param name="version">The version to count on from: that of a stored snapshot this grain replaces.</param>
    public VehicleGrain(long vehicleId, GrainSettings settings, long nowMs, long version = 0)
    {
        VehicleId = vehicleId;
        _settings = settings;
        LastActivityAtMs = nowMs;
        _version = version;
        _persistedVersion = version;
    }

    public long VehicleId { get; }

    public long Version => _version;

    /// <summary>Whether the grain has had a fix; one without a fix has no position to show or persist.</summary>
    public bool HasFix => _hasFix;

    /// <summary>Wall-clock time of the last turn; drives idle deactivation.</summary>
    public long LastActivityAtMs { get; private set; }

    /// <summary>Changed since the last snapshot that reached <c>vehicle_state</c>. Safe from any thread.</summary>
    public bool IsDirty => _hasFix && Volatile.Read(ref _persistedVersion) < Volatile.Read(ref _version);

    /// <summary>Re-activates a grain from its stored snapshot.</summary>
    public static VehicleGrain FromSnapshot(long vehicleId, long version, VehicleGrainSnapshot snapshot, GrainSettings settings, long nowMs)
    {
        var s = snapshot.State;
        var grain = new VehicleGrain(vehicleId, settings, nowMs)
        {
            _hasFix = true,
            _ts = s.Ts,
            _seq = snapshot.Seq,
            _lat = s.Lat,
            _lon = s.Lon,
            _spd = s.Spd,
            _hdg = s.Hdg,
            _acc = s.Acc,
            _odo = s.Odo,
            _lastFixOdo = snapshot.LastFixOdo,
            _motion = s.Motion,
            _stoppedSinceMs = snapshot.StoppedSinceMs,
            _online = s.Online,
            _lastReportAtMs = s.LastReportAtMs,
            _lastHeardAtMs = snapshot.LastHeardAtMs,
            _todayKm = s.TodayKm,
            _inLot = s.InLot,
            _version = version,
            _persistedVersion = version,
        };
        grain.SetDay(s.TodayDate);
        return grain;
    }

    /// <summary>
    /// Applies one report on event time. A report older than the newest fix is late: it leaves the position,
    /// the motion and the mileage alone (the live marker never moves backwards) and only shows the terminal is
    /// alive. Callers hand a vehicle's reports over sorted by (ts, seq), so a backlog applies in order.
    /// </summary>
    public ReportOutcome ApplyReport(in TelemetryFix fix, long receivedAtMs, long nowMs)
    {
        LastActivityAtMs = nowMs;
        if (_hasFix && fix.Ts == _ts && fix.Seq == _seq)
        {
            return ReportOutcome.Duplicate;
        }

        if (_hasFix && (fix.Ts < _ts || (fix.Ts == _ts && fix.Seq < _seq)))
        {
            if (Heard(receivedAtMs))
            {
                _version++;
            }

            return ReportOutcome.Late;
        }

        var speed = EffectiveSpeed(fix);
        var moving = speed > _settings.MovingSpeedKmh;
        AccumulateMileage(fix, moving);

        if (moving)
        {
            _motion = MotionState.Moving;
            _stoppedSinceMs = NoStop;
        }
        else
        {
            if (_stoppedSinceMs == NoStop)
            {
                _stoppedSinceMs = fix.Ts;
            }

            // Parked is sticky while stopped: the sweep may have parked it on wall-clock time already.
            _motion = _motion == MotionState.Parked || fix.Ts - _stoppedSinceMs >= _settings.ParkedAfterMs
                ? MotionState.Parked
                : MotionState.Stopped;
        }

        _hasFix = true;
        _ts = fix.Ts;
        _seq = fix.Seq;
        _lat = fix.Lat;
        _lon = fix.Lon;
        _spd = float.IsNaN(fix.Spd) ? null : fix.Spd;
        _hdg = fix.Hdg < 0 ? null : fix.Hdg;
        _acc = fix.Acc;
        _lastFixOdo = double.IsNaN(fix.Odo) ? null : fix.Odo;
        _odo = _lastFixOdo ?? _odo;
        _inLot = _settings.Geofences.IsInDesignatedLot(VehicleId, fix.Lat, fix.Lon, _inLot);
        Heard(receivedAtMs);
        _version++;
        return ReportOutcome.Applied;
    }

    /// <summary>The terminal's retained status (online/offline), received at <paramref name="atMs"/>.</summary>
    /// <returns>Whether the state changed.</returns>
    public bool SetOnline(bool online, long atMs, long nowMs)
    {
        LastActivityAtMs = nowMs;
        var changed = false;
        if (online)
        {
            _lastHeardAtMs = Math.Max(_lastHeardAtMs, atMs);
            changed = !_online;
            _online = true;
        }
        else if (_online && atMs >= _lastReportAtMs)
        {
            // A report received after the offline status was sent supersedes it (the two topics are not ordered).
            _online = false;
            changed = true;
        }

        if (changed)
        {
            _version++;
        }

        return changed;
    }

    /// <summary>
    /// The periodic wall-clock turn: offline after the timeout of silence, parked once stopped long enough,
    /// and today's mileage reset at Asia/Shanghai midnight even when no report crosses it.
    /// </summary>
    /// <returns>Whether the state changed.</returns>
    public bool Tick(long nowMs)
    {
        var changed = false;
        if (_online && nowMs - _lastHeardAtMs >= _settings.OfflineTimeoutMs)
        {
            _online = false;
            changed = true;
        }

        if (_hasFix && _motion == MotionState.Stopped && _stoppedSinceMs != NoStop && nowMs - _stoppedSinceMs >= _settings.ParkedAfterMs)
        {
            _motion = MotionState.Parked;
            changed = true;
        }

        if (_hasFix && nowMs >= _dayEndMs)
        {
            var today = ShanghaiCalendar.DateOf(nowMs);
            if (today > _todayDate)
            {
                SetDay(today);
                _todayKm = 0;
                changed = true;
            }
        }

        if (changed)
        {
            _version++;
        }

        return changed;
    }

    /// <summary>The current live state; the same instance until the next change.</summary>
    public VehicleLiveState GetLiveState()
    {
        if (_published is { } published && published.Version == _version)
        {
            return published;
        }

        _published = new VehicleLiveState(
            VehicleId,
            _ts,
            _lat,
            _lon,
            _spd,
            _hdg,
            _acc,
            _odo,
            _motion,
            _online,
            _lastReportAtMs,
            Math.Round(_todayKm, 3),
            _todayDate,
            _inLot,
            _version);
        return _published;
    }

    public VehicleGrainSnapshot CreateSnapshot() => new(GetLiveState(), _seq, _stoppedSinceMs, _lastHeardAtMs, _lastFixOdo);

    /// <summary>Records that a snapshot of <paramref name="version"/> is stored. Safe from any thread.</summary>
    public void MarkPersisted(long version)
    {
        var current = Volatile.Read(ref _persistedVersion);
        while (version > current)
        {
            var seen = Interlocked.CompareExchange(ref _persistedVersion, version, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>Marks the terminal alive; true when that changed the state.</summary>
    private bool Heard(long receivedAtMs)
    {
        var changed = !_online || receivedAtMs > _lastReportAtMs;
        _online = true;
        _lastReportAtMs = Math.Max(_lastReportAtMs, receivedAtMs);
        _lastHeardAtMs = Math.Max(_lastHeardAtMs, receivedAtMs);
        return changed;
    }

    /// <summary>The reported speed, or when absent the average speed since the previous fix.</summary>
    private double EffectiveSpeed(in TelemetryFix fix)
    {
        if (!float.IsNaN(fix.Spd))
        {
            return fix.Spd;
        }

        if (!_hasFix || fix.Ts <= _ts)
        {
            return 0;
        }

        return Geo.HaversineKm(_lat, _lon, fix.Lat, fix.Lon) / ((fix.Ts - _ts) / 3_600_000.0);
    }

    /// <summary>
    /// Adds the segment from the previous fix to today's mileage: by odometer when both fixes carry one, else by
    /// distance, counted only when moving at either end so GPS jitter while parked adds nothing. A segment that
    /// crosses midnight counts for the new day; fixes of a day already past (sent late but in order) count for none.
    /// </summary>
    private void AccumulateMileage(in TelemetryFix fix, bool moving)
    {
        if (fix.Ts < _dayStartMs || fix.Ts >= _dayEndMs)
        {
            var date = ShanghaiCalendar.DateOf(fix.Ts);
            if (date > _todayDate)
            {
                SetDay(date);
                _todayKm = 0;
            }
            else
            {
                return;
            }
        }

        if (!_hasFix)
        {
            return;
        }

        var dtMs = Math.Max(0, fix.Ts - _ts);
        if (_lastFixOdo is { } previousOdo && !double.IsNaN(fix.Odo))
        {
            var delta = fix.Odo - previousOdo;
            if (delta >= 0 && delta <= (dtMs * MaxPlausibleKmPerMs) + 1)
            {
                _todayKm += delta;
                return;
            }
        }

        if (moving || _motion == MotionState.Moving)
        {
            _todayKm += Geo.HaversineKm(_lat, _lon, fix.Lat, fix.Lon);
        }
    }

    private void SetDay(DateOnly date)
    {
        _todayDate = date;
        (_dayStartMs, _dayEndMs) = ShanghaiCalendar.Bounds(date);
    }
}
