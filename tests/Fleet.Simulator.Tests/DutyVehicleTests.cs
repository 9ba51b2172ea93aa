using Fleet.Core.Roads;
using Fleet.Simulator.Behaviour;
using Fleet.Simulator.Fleet;
using Fleet.Simulator.Reports;
using Fleet.Simulator.Running;

namespace Fleet.Simulator.Tests;

/// <summary>Law-enforcement and emergency vehicles on the duty roster patrol at any hour; office cars keep office hours.</summary>
public sealed class DutyVehicleTests
{
    private static readonly DateTimeOffset Sunday3am = TestFleet.Shanghai(2025, 11, 23, 3);

    [Fact(Timeout = 30_000)]
    public void At_three_on_a_Sunday_morning_some_police_cars_patrol_while_every_general_car_stays_parked()
    {
        var vehicles = SimulationRunner.CreateVehicles(MixedFleet(300, seed: 7), BehaviourSettings.Default, seed: 7);
        var clock = new ManualTimeProvider(Sunday3am);
        var outbox = new Outbox();
        var moved = new HashSet<int>();
        var generalReports = 0;

        // Half an hour, a report every 10 s; every payload must pass the gateway's parser.
        for (var tick = 0; tick < 180; tick++)
        {
            for (var v = 0; v < vehicles.Count; v++)
            {
                outbox.Clear();
                vehicles[v].Tick(clock.NowMs, outbox);
                var fix = Assert.Single(Assert.Single(TestFleet.Telemetry(outbox, clock.NowMs)));
                Assert.Equal(vehicles[v].IgnitionOn, fix.Acc);
                if (vehicles[v].Profile.Category == VehicleCategories.General)
                {
                    generalReports++;
                    var position = vehicles[v].Network.Projection.ToLocal(new GeoPoint(fix.Lat, fix.Lon));
                    Assert.False(fix.Acc);
                    Assert.Equal(0, fix.Spd);
                    Assert.True(position.DistanceTo(vehicles[v].HomeLot) < 10, $"{vehicles[v].Profile.Plate} is {position.DistanceTo(vehicles[v].HomeLot):F0} m from its lot");
                }
                else if (fix.Spd > 5)
                {
                    moved.Add(v);
                }
            }

            clock.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(150 * 180, generalReports);
        Assert.True(moved.Count >= 5, $"{moved.Count} law-enforcement vehicles moved");
        Assert.All(moved, v => Assert.True(vehicles[v].IsOnDuty));
        Assert.All(moved, v => Assert.Equal(VehicleCategories.LawEnforcement, vehicles[v].Profile.Category));
        Assert.DoesNotContain(vehicles, v => v.IsOnDuty && v.Profile.Category == VehicleCategories.General);
    }

    [Fact(Timeout = 10_000)]
    public void The_duty_roster_is_the_same_for_a_seed_and_close_to_its_share()
    {
        var police = Enumerable.Range(1, 2000).Select(i => Profile(i, VehicleCategories.LawEnforcement)).ToList();
        var emergency = Enumerable.Range(3001, 2000).Select(i => Profile(i, VehicleCategories.Emergency)).ToList();
        var general = Enumerable.Range(6001, 500).Select(i => Profile(i, VehicleCategories.General)).ToList();
        var settings = BehaviourSettings.Default;

        var roster = police.Concat(emergency).Where(p => settings.IsOnDutyRoster(p, 7)).Select(p => p.VehicleId).ToList();
        var again = police.Concat(emergency).Reverse().Where(p => settings.IsOnDutyRoster(p, 7)).Select(p => p.VehicleId).Order().ToList();
        var otherSeed = police.Concat(emergency).Where(p => settings.IsOnDutyRoster(p, 8)).Select(p => p.VehicleId).ToList();

        Assert.Equal(roster, again);
        Assert.NotEqual(roster, otherSeed);
        Assert.InRange(police.Count(p => settings.IsOnDutyRoster(p, 7)) / 2000.0, 0.27, 0.33);
        Assert.InRange(emergency.Count(p => settings.IsOnDutyRoster(p, 7)) / 2000.0, 0.12, 0.18);
        Assert.DoesNotContain(general, p => settings.IsOnDutyRoster(p, 7));

        // Scenarios other than normal, and the load mode, keep their own rhythm.
        Assert.DoesNotContain(police, p => new BehaviourSettings(ScenarioKind.HolidayMovement).IsOnDutyRoster(p, 7));
        Assert.DoesNotContain(police, p => new BehaviourSettings(Continuous: true).IsOnDutyRoster(p, 7));
    }

    [Fact(Timeout = 30_000)]
    public void A_duty_vehicle_patrols_one_eight_hour_shift_a_day_with_stops_and_then_parks_in_its_lot()
    {
        var profiles = Enumerable.Range(1, 200).Select(i => Profile(i, i % 2 == 0 ? VehicleCategories.LawEnforcement : VehicleCategories.Emergency)).ToList();
        var vehicles = SimulationRunner.CreateVehicles(profiles, BehaviourSettings.Default, seed: 3).Where(v => v.IsOnDuty).ToList();
        var clock = new ManualTimeProvider(Sunday3am);
        var outbox = new Outbox();
        var awayMinutes = new int[vehicles.Count];
        var phases = new HashSet<VehiclePhase>();

        // Monday 00:00 to Tuesday 00:00, a report a minute.
        clock.Advance(TimeSpan.FromHours(21));
        for (var minute = 0; minute < 24 * 60; minute++)
        {
            for (var v = 0; v < vehicles.Count; v++)
            {
                outbox.Clear();
                vehicles[v].Tick(clock.NowMs, outbox);
                var fix = Assert.Single(Assert.Single(TestFleet.Telemetry(outbox, clock.NowMs)));
                Assert.InRange(fix.Spd, 0, 80.5);
                phases.Add(vehicles[v].Phase);
                if (vehicles[v].Position.DistanceTo(vehicles[v].HomeLot) > 50)
                {
                    awayMinutes[v]++;
                }
            }

            clock.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.InRange(vehicles.Count, 30, 60); // ~30% of 100 police and ~15% of 100 emergency vehicles
        Assert.All(awayMinutes, m => Assert.InRange(m, 7 * 60, 9 * 60));
        Assert.Contains(VehiclePhase.Idling, phases);
        Assert.Contains(VehiclePhase.Dwelling, phases);
    }

    /// <summary>Half police plates (ending in 警), half ordinary ones, homed by plate.</summary>
    private static List<VehicleProfile> MixedFleet(int count, int seed) =>
        TestFleet.Terminals(count)
            .Select((t, i) => i % 2 == 0 ? t : t with { Plate = $"蒙A{i:D4}警" })
            .Select(t => FleetLoader.FromPlate(t, seed))
            .ToList();

    private static VehicleProfile Profile(int id, string category) =>
        FleetLoader.FromPlate(new TerminalCredential($"T{id:D7}", "p", id, $"蒙A{id:D5}"), seed: 3) with { Category = category };
}
