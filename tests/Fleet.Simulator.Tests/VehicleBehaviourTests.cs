using Fleet.Core.Telemetry;
using Fleet.Simulator.Behaviour;
using Fleet.Simulator.Reports;
using Fleet.Core.Roads;

namespace Fleet.Simulator.Tests;

public sealed class VehicleBehaviourTests
{
    // A Wednesday, an ordinary working day.
    private static readonly DateTimeOffset Wednesday3am = TestFleet.Shanghai(2025, 11, 19, 3);
    private static readonly DateTimeOffset Wednesday930 = TestFleet.Shanghai(2025, 11, 19, 9, 30);

    [Fact(Timeout = 20_000)]
    public void At_three_in_the_morning_almost_every_vehicle_is_parked_in_its_lot_with_ignition_off()
    {
        var vehicles = TestFleet.Vehicles(200);
        var clock = new ManualTimeProvider(Wednesday3am);
        var outbox = new Outbox();
        var parkedInLot = 0;
        var reports = 0;

        for (var tick = 0; tick < 180; tick++)
        {
            foreach (var vehicle in vehicles)
            {
                outbox.Clear();
                vehicle.Tick(clock.NowMs, outbox);
                foreach (var fixes in TestFleet.Telemetry(outbox, clock.NowMs))
                {
                    var fix = Assert.Single(fixes);
                    reports++;
                    var position = vehicle.Network.Projection.ToLocal(new GeoPoint(fix.Lat, fix.Lon));
                    if (fix.Acc == false && fix.Spd == 0 && position.DistanceTo(vehicle.HomeLot) < 10)
                    {
                        parkedInLot++;
                    }
                }
            }

            clock.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(200 * 180, reports);
        Assert.True(parkedInLot >= reports * 0.98, $"{parkedInLot} of {reports} reports parked in the lot");
    }

    [Fact(Timeout = 30_000)]
    public void During_working_hours_some_vehicles_drive_at_plausible_speeds_and_every_report_is_valid()
    {
        var vehicles = TestFleet.Vehicles(200);
        var clock = new ManualTimeProvider(Wednesday930);
        var outbox = new Outbox();
        var lastOdo = new double[vehicles.Count];
        var lastSeq = new uint[vehicles.Count];
        var mostMoving = 0;
        var movingSpeeds = new List<double>();

        // Two simulated hours, a report every 10 s.
        for (var tick = 0; tick < 720; tick++)
        {
            var moving = 0;
            for (var v = 0; v < vehicles.Count; v++)
            {
                outbox.Clear();
                vehicles[v].Tick(clock.NowMs, outbox);
                var fix = Assert.Single(Assert.Single(TestFleet.Telemetry(outbox, clock.NowMs)));

                Assert.Equal(clock.NowMs, fix.Ts);
                Assert.True(fix.Odo >= lastOdo[v], $"odometer went back from {lastOdo[v]} to {fix.Odo}");
                if (lastSeq[v] != 0)
                {
                    Assert.Equal(lastSeq[v] + 1, fix.Seq);
                }

                lastOdo[v] = fix.Odo;
                lastSeq[v] = fix.Seq;
                Assert.InRange(fix.Spd, 0, 80.5);
                Assert.InRange(fix.Hdg, 0, 359);
                Assert.InRange(fix.Sats, 4, 30);
                Assert.InRange(fix.Hdop, 0.5, 3);
                Assert.True(float.IsNaN(fix.Fuel) != float.IsNaN(fix.Soc), "exactly one of fuel and soc");
                Assert.Equal(fix.Acc, vehicles[v].IgnitionOn);
                var position = vehicles[v].Network.Projection.ToLocal(new GeoPoint(fix.Lat, fix.Lon));
                Assert.True(position.Length <= vehicles[v].Network.RadiusMetres + 5, $"{position.Length:F0} m from the centre");
                if (fix.Spd > 5)
                {
                    moving++;
                    movingSpeeds.Add(fix.Spd);
                }
            }

            mostMoving = Math.Max(mostMoving, moving);
            clock.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.InRange(mostMoving, 20, 160);
        var mean = movingSpeeds.Average();
        Assert.InRange(mean, 25, 65);
        Assert.True(movingSpeeds.Count(s => s > 50) > movingSpeeds.Count / 20, "some stretches at arterial speeds");
        Assert.True(lastOdo.Sum() > 0);
    }

    [Fact(Timeout = 30_000)]
    public void By_evening_every_vehicle_is_back_in_its_lot_and_its_odometer_counts_the_day()
    {
        var vehicles = TestFleet.Vehicles(100);
        var clock = new ManualTimeProvider(TestFleet.Shanghai(2025, 11, 19, 7));
        var outbox = new Outbox();
        var startOdo = new double[vehicles.Count];

        for (var minute = 0; minute <= 12 * 60; minute++)
        {
            for (var v = 0; v < vehicles.Count; v++)
            {
                outbox.Clear();
                vehicles[v].Tick(clock.NowMs, outbox);
                if (minute == 0)
                {
                    startOdo[v] = vehicles[v].OdometerKm;
                }
            }

            clock.Advance(TimeSpan.FromMinutes(1));
        }

        // 19:00: everyone parked at home, and most drove somewhere today.
        Assert.All(vehicles, v => Assert.Equal(VehiclePhase.Parked, v.Phase));
        Assert.All(vehicles, v => Assert.True(v.Position.DistanceTo(v.HomeLot) < 1));
        var drove = vehicles.Select((v, i) => v.OdometerKm - startOdo[i]).Count(d => d > 2);
        Assert.InRange(drove, 50, 100);
    }

    [Fact(Timeout = 20_000)]
    public void The_same_seed_replays_the_same_reports()
    {
        static string Run()
        {
            var vehicles = TestFleet.Vehicles(20, seed: 3);
            var clock = new ManualTimeProvider(Wednesday930);
            var outbox = new Outbox();
            var all = new System.Text.StringBuilder();
            for (var tick = 0; tick < 100; tick++)
            {
                foreach (var vehicle in vehicles)
                {
                    outbox.Clear();
                    vehicle.Tick(clock.NowMs, outbox);
                    all.Append(System.Text.Encoding.UTF8.GetString(outbox.Payload(outbox[0])));
                }

                clock.Advance(TimeSpan.FromSeconds(10));
            }

            return all.ToString();
        }

        Assert.Equal(Run(), Run());
    }

    [Fact(Timeout = 20_000)]
    public void Holiday_movement_vehicles_drive_on_a_weekend_while_the_others_stay_parked()
    {
        var vehicles = TestFleet.Vehicles(50, new BehaviourSettings(ScenarioKind.HolidayMovement, AffectedShare: 0.2));
        var clock = new ManualTimeProvider(TestFleet.Shanghai(2025, 11, 22, 8)); // Saturday
        var outbox = new Outbox();
        var droveOnSaturday = new HashSet<int>();

        for (var tick = 0; tick < 12 * 60; tick++)
        {
            for (var v = 0; v < vehicles.Count; v++)
            {
                outbox.Clear();
                vehicles[v].Tick(clock.NowMs, outbox);
                if (vehicles[v].IgnitionOn)
                {
                    droveOnSaturday.Add(v);
                }
            }

            clock.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Equal(10, vehicles.Count(v => v.IsAffected));
        Assert.All(droveOnSaturday, v => Assert.True(vehicles[v].IsAffected));
        Assert.True(droveOnSaturday.Count >= 5, $"{droveOnSaturday.Count} affected vehicles drove");
    }

    [Fact(Timeout = 20_000)]
    public void Night_away_vehicles_spend_the_night_outside_their_lots_with_ignition_off()
    {
        var vehicles = TestFleet.Vehicles(40, new BehaviourSettings(ScenarioKind.NightAway, AffectedShare: 0.5));
        var clock = new ManualTimeProvider(TestFleet.Shanghai(2025, 11, 18, 12)); // Tuesday noon
        var outbox = new Outbox();

        // On to Wednesday 03:00.
        while (clock.GetUtcNow() < TestFleet.Shanghai(2025, 11, 19, 3))
        {
            foreach (var vehicle in vehicles)
            {
                outbox.Clear();
                vehicle.Tick(clock.NowMs, outbox);
            }

            clock.Advance(TimeSpan.FromSeconds(30));
        }

        var away = vehicles.Where(v => v.Position.DistanceTo(v.HomeLot) > 500).ToList();
        Assert.NotEmpty(away);
        Assert.All(away, v => Assert.True(v.IsAffected));
        Assert.All(vehicles, v => Assert.False(v.IgnitionOn));
    }

    [Fact(Timeout = 20_000)]
    public void Backlog_terminals_upload_their_stored_reports_in_ordered_arrays_within_the_gateway_limits()
    {
        var behaviour = new BehaviourSettings(ScenarioKind.Backlog, AffectedShare: 1, BacklogFor: TimeSpan.FromMinutes(40));
        var vehicles = TestFleet.Vehicles(10, behaviour);
        var clock = new ManualTimeProvider(Wednesday930);
        var outbox = new Outbox();
        var arrays = new List<TelemetryFix[]>();
        var statuses = new List<OutboxKind>();
        var lastSeq = new uint[vehicles.Count];

        // Every second for three hours: 40 minutes offline makes 2,400 stored reports.
        for (var tick = 0; tick < 3 * 3600; tick++)
        {
            for (var v = 0; v < vehicles.Count; v++)
            {
                outbox.Clear();
                vehicles[v].Tick(clock.NowMs, outbox);
                for (var m = 0; m < outbox.Count; m++)
                {
                    var message = outbox[m];
                    if (message.Kind != OutboxKind.Telemetry)
                    {
                        statuses.Add(message.Kind);
                        continue;
                    }

                    var payload = outbox.Payload(message);
                    var fixes = TestFleet.Parse(payload, clock.NowMs);
                    Assert.True(payload.Length <= TelemetryLimits.Default.MaxPayloadBytes);
                    foreach (var fix in fixes)
                    {
                        Assert.True(fix.Seq == lastSeq[v] + 1 || lastSeq[v] == 0, $"seq {fix.Seq} after {lastSeq[v]}");
                        lastSeq[v] = fix.Seq;
                    }

                    if (payload[0] == (byte)'[')
                    {
                        arrays.Add(fixes);
                    }
                }
            }

            clock.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.NotEmpty(arrays);
        Assert.All(arrays, a => Assert.InRange(a.Length, 1, 1000));
        Assert.All(arrays, a => Assert.Equal(a.OrderBy(f => f.Ts).Select(f => f.Seq), a.Select(f => f.Seq)));
        var uploads = arrays.Sum(a => a.Length);
        Assert.True(uploads >= 2400 * 3, $"{uploads} reports uploaded from backlogs");
        // Each upload follows a reconnect; a terminal may still be offline when the run ends.
        Assert.InRange(statuses.Count(s => s == OutboxKind.Online), arrays.Count > 0 ? 1 : 0, statuses.Count(s => s == OutboxKind.Offline));
    }

    [Fact(Timeout = 20_000)]
    public void Unplugged_terminals_report_power_cut_then_stay_silent_while_the_ignition_is_on()
    {
        var behaviour = new BehaviourSettings(ScenarioKind.Unplugged, AffectedShare: 1, SilentFor: TimeSpan.FromMinutes(20));
        var vehicles = TestFleet.Vehicles(10, behaviour);
        var clock = new ManualTimeProvider(Wednesday930);
        var outbox = new Outbox();
        var powerCutAt = new long?[vehicles.Count];
        var silentTicks = new int[vehicles.Count];

        for (var tick = 0; tick < 6 * 360; tick++)
        {
            for (var v = 0; v < vehicles.Count; v++)
            {
                outbox.Clear();
                vehicles[v].Tick(clock.NowMs, outbox);
                var telemetry = TestFleet.Telemetry(outbox, clock.NowMs).SelectMany(f => f).ToList();
                if (telemetry.Count == 0)
                {
                    Assert.NotNull(powerCutAt[v]);
                    Assert.True(clock.NowMs - powerCutAt[v] < TimeSpan.FromMinutes(20).TotalMilliseconds + 10_000);
                    silentTicks[v]++;
                    continue;
                }

                var fix = Assert.Single(telemetry);
                if (fix.PowerCut)
                {
                    Assert.Null(powerCutAt[v]);
                    Assert.True(fix.Acc, "power cut while the ignition is on");
                    Assert.Equal(OutboxKind.Offline, outbox[outbox.Count - 1].Kind);
                    powerCutAt[v] = clock.NowMs;
                }
            }

            clock.Advance(TimeSpan.FromSeconds(10));
        }

        var cut = Enumerable.Range(0, vehicles.Count).Where(v => powerCutAt[v] is not null).ToList();
        Assert.True(cut.Count >= 5, $"{cut.Count} terminals lost power");

        // Twenty minutes of silence at one report per 10 s, for every cut that had the time to end.
        var ended = cut.Where(v => powerCutAt[v] < clock.NowMs - (long)TimeSpan.FromMinutes(21).TotalMilliseconds).ToList();
        Assert.NotEmpty(ended);
        Assert.All(ended, v => Assert.InRange(silentTicks[v], 119, 121));
    }
}
