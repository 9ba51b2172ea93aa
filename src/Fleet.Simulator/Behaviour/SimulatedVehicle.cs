using System.Diagnostics.CodeAnalysis;
using Fleet.Core.Telemetry;
using Fleet.Simulator.Fleet;
using Fleet.Simulator.Reports;
using Fleet.Core.Roads;

namespace Fleet.Simulator.Behaviour;

public enum VehiclePhase : byte
{
    /// <summary>In its home lot, ignition off.</summary>
    Parked,

    /// <summary>Ignition on, on the road (or waiting at a light).</summary>
    Driving,

    /// <summary>Stopped at a destination, ignition off.</summary>
    Dwelling,

    /// <summary>Stopped on patrol with the engine running: a duty vehicle on watch.</summary>
    Idling,
}

/// <summary>
/// One vehicle and its terminal on a simulated clock: a small state machine (parked → driving → dwelling → driving
/// back → parked; a duty vehicle loops driving → stopped → driving until its shift ends) moved forward by
/// <see cref="Tick"/> to whatever time the caller gives, so a real clock and a manual one drive it alike. Motion is integrated in steps of at most one second; idle phases skip ahead at once.
/// Not thread-safe: one caller at a time.
/// </summary>
[SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "A reproducible simulation needs a seeded generator.")]
public sealed class SimulatedVehicle
{
    private const double Deceleration = 2.2;           // m/s², a comfortable stop
    private const double TurnSpeed = 20 / 3.6;         // m/s through a sharp turn
    private const double DrivewaySpeed = 18 / 3.6;     // m/s between the lot and the street
    private const double RedLightShare = 0.3;
    private const long StepMs = 1000;
    private const int MaxBacklogReportsPerArray = 1000;
    private const int MaxBacklogBytesPerArray = 60 * 1024; // under the gateway's 64 KiB payload limit, with room to spare

    private static readonly TimeSpan TripWindowOpens = new(8, 30, 0);
    private static readonly TimeSpan TripWindowCloses = new(16, 30, 0);
    private static readonly TimeSpan BackInLotBy = new(17, 30, 0);
    private static readonly long ShiftMs = (long)TimeSpan.FromHours(8).TotalMilliseconds;

    private readonly RoadNetwork _network;
    private readonly BehaviourSettings _settings;
    private readonly Random _random;

    // Report noise draws from its own generator, so how often a vehicle reports never changes where it drives.
    private readonly Random _noise;
    private readonly LocalPoint _homeLot;
    private readonly int _homeNode;
    private readonly double _acceleration;
    private readonly double _driverFactor;
    private readonly double _energyPerKm;
    private readonly List<TelemetrySample> _backlog = [];

    // Duty roster: when, in Shanghai time of day, this vehicle's daily shift starts.
    private readonly TimeSpan _shiftStart;

    private VehiclePhase _phase;
    private bool _initialised;
    private long _simMs;
    private LocalPoint _position;
    private double _heading;
    private double _speed;
    private double _odoKm;
    private double _energy;
    private uint _seq;

    // The path being driven: points, and per segment its cruise speed and the speed to leave it at.
    private LocalPoint[] _path = [];
    private double[] _cruise = [];
    private int _segment;
    private double _along;
    private double _segmentEndSpeed;
    private bool _segmentEndsAtLight;
    private long _waitUntilMs;
    private bool _toLot;
    private int _destinationNode;
    private long _tripStartedMs;

    private long _nextDepartureMs;
    private long _dwellUntilMs;
    private long _shiftEndsMs;

    private DateOnly _lastIncidentDay;
    private long _silentUntilMs;
    private long _offlineUntilMs;

    public SimulatedVehicle(VehicleProfile profile, RoadNetwork network, BehaviourSettings settings, bool affected, int seed)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(network);
        Profile = profile;
        _network = network;
        _settings = settings ?? BehaviourSettings.Default;
        IsAffected = affected && _settings.Scenario != ScenarioKind.Normal;
        _random = new Random(StableHash.Combine(seed, profile.VehicleId ^ StableHash.Combine(seed, profile.TerminalId)));
        _noise = new Random(_random.Next());
        _homeLot = network.Projection.ToLocal(profile.HomeLot);
        _homeNode = network.NearestNode(_homeLot);
        _acceleration = 1.2 + (_random.NextDouble() * 0.8);
        _driverFactor = 0.85 + (_random.NextDouble() * 0.15);

        // Litres per 100 km over a 55 L tank, or kWh per 100 km over a 60 kWh pack, as percent per km.
        _energyPerKm = profile.Energy == EnergyKind.Electric ? 0.25 : 0.15;

        IsOnDuty = _settings.IsOnDutyRoster(profile, seed);
        if (IsOnDuty)
        {
            // Three shifts a day (00:00, 08:00, 16:00), one per vehicle, each starting up to half an hour late so a
            // shift change is no wave of departures. Hashed, so office cars' random draws stay as they were.
            var shift = StableHash.Combine(seed, $"shift/{profile.VehicleId}");
            _shiftStart = TimeSpan.FromHours(8 * (shift % 3)) + TimeSpan.FromMinutes(shift / 3 % 30);
        }
    }

    public VehicleProfile Profile { get; }

    public bool IsAffected { get; }

    /// <summary>On the duty roster: patrols in a daily 8-hour shift at any hour, instead of office trips.</summary>
    public bool IsOnDuty { get; }

    public VehiclePhase Phase => _phase;

    public bool IgnitionOn => _phase is VehiclePhase.Driving or VehiclePhase.Idling;

    /// <summary>Current speed in km/h.</summary>
    public double SpeedKmh => _speed * 3.6;

    public double OdometerKm => _odoKm;

    public LocalPoint Position => _position;

    public LocalPoint HomeLot => _homeLot;

    public RoadNetwork Network => _network;

    /// <summary>True while an unplugged terminal is silent or a backlog terminal is offline.</summary>
    public bool IsOffline => _silentUntilMs > 0 || _offlineUntilMs > 0;

    /// <summary>Moves the vehicle to <paramref name="nowMs"/> and puts what its terminal sends now into <paramref name="outbox"/>.</summary>
    public void Tick(long nowMs, Outbox outbox)
    {
        ArgumentNullException.ThrowIfNull(outbox);
        if (!_initialised)
        {
            Initialise(nowMs);
        }

        AdvanceTo(nowMs);

        if (_silentUntilMs > 0)
        {
            if (nowMs < _silentUntilMs)
            {
                return;
            }

            // Power is back: the terminal boots, reconnects and reports again.
            _silentUntilMs = 0;
            outbox.AddStatus(online: true);
        }

        if (_offlineUntilMs > 0)
        {
            _backlog.Add(Sample(nowMs, alarm: 0));
            if (nowMs < _offlineUntilMs)
            {
                return;
            }

            _offlineUntilMs = 0;
            outbox.AddStatus(online: true);
            outbox.AddBacklog(_backlog, MaxBacklogReportsPerArray, MaxBacklogBytesPerArray);
            _backlog.Clear();
            return;
        }

        if (IsAffected && _phase == VehiclePhase.Driving && nowMs - _tripStartedMs >= 60_000)
        {
            var today = DateOnly.FromDateTime(ShanghaiTime.Local(nowMs));
            if (today != _lastIncidentDay)
            {
                if (_settings.Scenario == ScenarioKind.Unplugged)
                {
                    // The terminal runs on its backup cell just long enough to report the power cut; then the broker's
                    // will (here: our own retained status) says offline.
                    _lastIncidentDay = today;
                    outbox.AddReport(Sample(nowMs, alarm: 1u << 8));
                    outbox.AddStatus(online: false);
                    _silentUntilMs = nowMs + (long)_settings.EffectiveSilentFor.TotalMilliseconds;
                    return;
                }

                if (_settings.Scenario == ScenarioKind.Backlog)
                {
                    _lastIncidentDay = today;
                    outbox.AddStatus(online: false);
                    _offlineUntilMs = nowMs + (long)_settings.EffectiveBacklogFor.TotalMilliseconds;
                    _backlog.Add(Sample(nowMs, alarm: 0));
                    return;
                }
            }
        }

        outbox.AddReport(Sample(nowMs, alarm: 0));
    }

    private void Initialise(long nowMs)
    {
        _initialised = true;
        _simMs = nowMs;
        _position = _homeLot;
        _heading = _random.Next(360);
        _odoKm = 3_000 + (_random.NextDouble() * 150_000);
        _energy = 35 + (_random.NextDouble() * 60);

        // Seconds since the epoch: a restarted simulator continues above the seq it used before, as long as it sent
        // at most one report per second per terminal.
        _seq = (uint)(nowMs / 1000);
        _phase = VehiclePhase.Parked;
        _nextDepartureMs = PlanDeparture(nowMs, starting: true);
    }

    private void AdvanceTo(long nowMs)
    {
        while (_simMs < nowMs)
        {
            switch (_phase)
            {
                case VehiclePhase.Parked when _nextDepartureMs > nowMs:
                case VehiclePhase.Dwelling or VehiclePhase.Idling when _dwellUntilMs > nowMs:
                    _speed = 0;
                    _simMs = nowMs;
                    break;
                case VehiclePhase.Parked:
                    _simMs = Math.Max(_simMs, _nextDepartureMs);
                    LeaveLot();
                    break;
                case VehiclePhase.Dwelling or VehiclePhase.Idling:
                    _simMs = Math.Max(_simMs, _dwellUntilMs);
                    MoveOn();
                    break;
                default:
                    var step = Math.Min(StepMs, nowMs - _simMs);
                    Drive(step / 1000.0);
                    _simMs += step;
                    break;
            }
        }
    }

    private void LeaveLot()
    {
        if (_energy < 20)
        {
            // Refuelled or charged in the lot before leaving.
            _energy = 85 + (_random.NextDouble() * 15);
        }

        StartTrip(_homeNode, PickDestination(_homeNode, 1_500, 10_000), fromLot: true, toLot: false);
    }

    /// <summary>After a stop: the next patrol leg while the shift lasts, otherwise back to the lot.</summary>
    private void MoveOn()
    {
        if (IsOnDuty && _simMs < _shiftEndsMs)
        {
            if (_energy < 15)
            {
                // The stop was at a filling or charging station.
                _energy = 85 + (_random.NextDouble() * 15);
            }

            StartTrip(_destinationNode, PickDestination(_destinationNode, 1_000, 6_000), fromLot: false, toLot: false);
            return;
        }

        StartTrip(_destinationNode, _homeNode, fromLot: false, toLot: true);
    }

    private void StartTrip(int from, int to, bool fromLot, bool toLot)
    {
        _toLot = toLot;
        if (!toLot)
        {
            _destinationNode = to;
        }

        var edges = _network.FindRoute(from, to) ?? [];
        var points = new List<LocalPoint>(edges.Length + 3);
        var cruise = new List<double>(edges.Length + 2);
        if (fromLot)
        {
            points.Add(_homeLot);
            cruise.Add(DrivewaySpeed);
        }

        points.Add(_network.Node(from));
        var node = from;
        foreach (var e in edges)
        {
            var edge = _network.Edges[e];
            node = edge.Other(node);
            points.Add(_network.Node(node));
            cruise.Add(CruiseSpeed(edge.SpeedLimitKmh));
        }

        if (toLot)
        {
            points.Add(_homeLot);
            cruise.Add(DrivewaySpeed);
        }

        if (points.Count < 2)
        {
            points.Add(points[0]);
            cruise.Add(DrivewaySpeed);
        }

        _path = [.. points];
        _cruise = [.. cruise];
        _segment = 0;
        _along = 0;
        _speed = 0;
        _waitUntilMs = 0;
        _tripStartedMs = _simMs;
        _phase = VehiclePhase.Driving;
        EnterSegment();
    }

    // Cruising at 60–97% of the limit times the driver's habit: never above the limit.
    private double CruiseSpeed(double limitKmh) => limitKmh / 3.6 * _driverFactor * (0.7 + (_random.NextDouble() * 0.27));

    private int PickDestination(int from, double minMetres, double maxMetres)
    {
        var origin = _network.Node(from);
        for (var attempt = 0; attempt < 30; attempt++)
        {
            var candidate = _random.Next(_network.Nodes.Count);
            var distance = _network.Node(candidate).DistanceTo(origin);
            if (candidate != from && distance > minMetres && distance < maxMetres)
            {
                return candidate;
            }
        }

        return (from + 1) % _network.Nodes.Count;
    }

    /// <summary>Decides how the current segment ends: a stop at the destination or a red light, a turn, or straight on.</summary>
    private void EnterSegment()
    {
        var last = _segment == _path.Length - 2;
        _segmentEndsAtLight = false;
        if (last)
        {
            _segmentEndSpeed = 0;
            return;
        }

        var turn = Math.Abs(_path[_segment].BearingTo(_path[_segment + 1]) - _path[_segment + 1].BearingTo(_path[_segment + 2]));
        turn = Math.Min(turn, 360 - turn);
        if (_random.NextDouble() < RedLightShare)
        {
            _segmentEndsAtLight = true;
            _segmentEndSpeed = 0;
        }
        else
        {
            _segmentEndSpeed = Math.Min(turn > 35 ? TurnSpeed : _cruise[_segment + 1], _cruise[_segment]);
        }
    }

    private void Drive(double dt)
    {
        if (_waitUntilMs > _simMs)
        {
            _speed = 0;
            return;
        }

        var start = _path[_segment];
        var end = _path[_segment + 1];
        var length = start.DistanceTo(end);
        var remaining = length - _along;
        var brakingDistance = ((_speed * _speed) - (_segmentEndSpeed * _segmentEndSpeed)) / (2 * Deceleration);
        if (remaining <= brakingDistance + (_speed * dt * 0.5))
        {
            // Creep the last metres to a stop line rather than stall short of it.
            _speed = Math.Max(Math.Max(_segmentEndSpeed, _speed - (Deceleration * dt)), remaining > 1 ? 1.5 : 0);
        }
        else if (_speed < _cruise[_segment])
        {
            _speed = Math.Min(_cruise[_segment], _speed + (_acceleration * dt));
        }
        else
        {
            _speed = Math.Max(_cruise[_segment], _speed - (Deceleration * dt));
        }

        var move = _speed * dt;
        if (length > 0)
        {
            _heading = start.BearingTo(end);
        }

        if (move < remaining)
        {
            _along += move;
            Travel(move);
            var t = length > 0 ? _along / length : 1;
            _position = new LocalPoint(start.X + ((end.X - start.X) * t), start.Y + ((end.Y - start.Y) * t));
            return;
        }

        Travel(remaining);
        _position = end;
        if (_segment == _path.Length - 2)
        {
            Arrive();
            return;
        }

        if (_segmentEndsAtLight)
        {
            _speed = 0;
            _waitUntilMs = _simMs + 10_000 + _random.Next(35_000);
        }
        else
        {
            _speed = Math.Min(_speed, _segmentEndSpeed);
        }

        _segment++;
        _along = 0;
        EnterSegment();
    }

    private void Travel(double metres)
    {
        _odoKm += metres / 1000;
        _energy = Math.Max(1, _energy - (metres / 1000 * _energyPerKm));
    }

    private void Arrive()
    {
        _speed = 0;
        if (_toLot)
        {
            _phase = VehiclePhase.Parked;
            _position = _homeLot;
            _nextDepartureMs = PlanDeparture(_simMs, starting: false);
            return;
        }

        if (IsOnDuty)
        {
            if (_simMs >= _shiftEndsMs)
            {
                StartTrip(_destinationNode, _homeNode, fromLot: false, toLot: true);
                return;
            }

            // A patrol stop: on watch with the engine running, or parked while the crew is out.
            _phase = _random.NextDouble() < 0.5 ? VehiclePhase.Idling : VehiclePhase.Dwelling;
            _dwellUntilMs = _simMs + ((2 + _random.Next(9)) * 60_000L);
            return;
        }

        _phase = VehiclePhase.Dwelling;
        _dwellUntilMs = PlanDwellEnd(_simMs);
    }

    private long PlanDwellEnd(long arrivedMs)
    {
        if (_settings.Continuous)
        {
            return arrivedMs + _random.Next(120_000);
        }

        var local = ShanghaiTime.Local(arrivedMs);
        var departed = ShanghaiTime.Local(_tripStartedMs);
        if (IsAffected && _settings.Scenario == ScenarioKind.NightAway && ShanghaiTime.IsWorkingDay(departed) && departed.TimeOfDay >= new TimeSpan(15, 30, 0))
        {
            // Parked away overnight: back to the lot only next working morning.
            var morning = ShanghaiTime.NextWorkingDayAt(local, new TimeSpan(7, 30, 0)).AddMinutes(_random.Next(40));
            return ShanghaiTime.ToUnixMs(morning);
        }

        if (!InWorkingWindow(departed))
        {
            // An off-hours outing (holiday-movement): a short stop.
            return arrivedMs + ((10 + _random.Next(50)) * 60_000L);
        }

        var end = arrivedMs + ((15 + _random.Next(75)) * 60_000L);
        var backBy = ShanghaiTime.ToUnixMs(local.Date + BackInLotBy);
        return end > backBy ? Math.Max(arrivedMs + (5 * 60_000), backBy - (_random.Next(20) * 60_000)) : end;
    }

    /// <summary>When the vehicle next leaves its lot: an exponential wait that only counts inside trip windows.</summary>
    private long PlanDeparture(long fromMs, bool starting)
    {
        if (_settings.Continuous)
        {
            return fromMs + _random.Next(starting ? 10_000 : 60_000);
        }

        if (IsOnDuty)
        {
            var (start, end) = ShiftAtOrAfter(fromMs);
            _shiftEndsMs = end;

            // Started mid-shift: already out on patrol within minutes.
            return fromMs >= start ? fromMs + _random.Next(300_000) : start;
        }

        // A quarter of the fleet is already on its way when the simulator starts inside a window, so a fresh start
        // shows traffic within minutes rather than an hour.
        if (starting && InTripWindow(ShanghaiTime.Local(fromMs)) && _random.NextDouble() < 0.25)
        {
            return fromMs + _random.Next(300_000);
        }

        var meanMs = _settings.EffectiveMeanGap.TotalMilliseconds;
        var t = fromMs;
        for (var i = 0; i < 10_000; i++)
        {
            t += (long)(-Math.Log(1 - _random.NextDouble()) * meanMs);
            if (InTripWindow(ShanghaiTime.Local(t)))
            {
                return t;
            }
        }

        return long.MaxValue;
    }

    /// <summary>This vehicle's shift running at <paramref name="fromMs"/> or, when none is, the next one.</summary>
    private (long Start, long End) ShiftAtOrAfter(long fromMs)
    {
        // Yesterday's late shift may still be running past midnight.
        var day = ShanghaiTime.Local(fromMs).Date.AddDays(-1);
        while (true)
        {
            var start = ShanghaiTime.ToUnixMs(day + _shiftStart);
            if (start + ShiftMs > fromMs)
            {
                return (start, start + ShiftMs);
            }

            day = day.AddDays(1);
        }
    }

    private static bool InWorkingWindow(DateTime local) =>
        ShanghaiTime.IsWorkingDay(local) && local.TimeOfDay >= TripWindowOpens && local.TimeOfDay < TripWindowCloses;

    private bool InTripWindow(DateTime local)
    {
        if (InWorkingWindow(local))
        {
            return true;
        }

        if (!IsAffected || _settings.Scenario != ScenarioKind.HolidayMovement)
        {
            return false;
        }

        var time = local.TimeOfDay;
        return ShanghaiTime.IsWorkingDay(local)
            ? time >= new TimeSpan(18, 30, 0) && time < new TimeSpan(22, 30, 0)
            : time >= new TimeSpan(9, 0, 0) && time < new TimeSpan(20, 0, 0);
    }

    private TelemetrySample Sample(long nowMs, uint alarm)
    {
        // GPS noise of a metre or two, even standing still.
        var position = new LocalPoint(_position.X + ((_noise.NextDouble() - 0.5) * 3), _position.Y + ((_noise.NextDouble() - 0.5) * 3));
        var geo = _network.Projection.ToGeo(position);
        var altitude = Profile.Region.AltitudeMetres + (12 * Math.Sin(_position.X / 1500)) + (8 * Math.Cos(_position.Y / 2100));
        return new TelemetrySample(
            Ts: nowMs,
            Seq: ++_seq,
            Lat: geo.Lat,
            Lon: geo.Lon,
            Spd: Math.Min(_speed * 3.6, TelemetryLimits.Default.MaxSpeedKmh),
            Hdg: (int)_heading % 360,
            Alt: altitude,
            Acc: IgnitionOn,
            Odo: _odoKm,
            Energy: _energy,
            Electric: Profile.Energy == EnergyKind.Electric,
            Sats: 8 + _noise.Next(11),
            Hdop: 0.6 + (_noise.NextDouble() * 1.0),
            Alarm: alarm);
    }
}
