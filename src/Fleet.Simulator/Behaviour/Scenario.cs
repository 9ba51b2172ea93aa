using Fleet.Core.Roads;
using Fleet.Simulator.Fleet;

namespace Fleet.Simulator.Behaviour;

/// <summary>What the affected share of the vehicles does besides the normal working-day rhythm.</summary>
public enum ScenarioKind
{
    /// <summary>
    /// Working-day trips from the lot and back; nights and weekends parked in the lot, ignition off. Duty vehicles on the
    /// roster patrol in 8-hour shifts at any hour instead.
    /// </summary>
    Normal,

    /// <summary>Affected vehicles also drive inside sealing windows: weekday evenings and weekends.</summary>
    HolidayMovement,

    /// <summary>Affected vehicles' late-afternoon trips end away from the lot; they park there overnight.</summary>
    NightAway,

    /// <summary>An affected terminal reports power cut (JT/T 808 alarm bit 8) while driving, then goes silent for a while.</summary>
    Unplugged,

    /// <summary>An affected terminal loses the network while driving, stores its reports, and uploads them as arrays on reconnect.</summary>
    Backlog,
}

public static class Scenarios
{
    public static readonly IReadOnlyList<(string Name, ScenarioKind Kind, string Description)> All =
    [
        ("normal", ScenarioKind.Normal, "Monday–Friday trips from the home lot (departures 08:30–16:30 Asia/Shanghai, back before 18:00); nights and weekends in the lot, ignition off. A share of law-enforcement (30%) and emergency (15%) vehicles are on a duty roster instead: every day one 8-hour shift (00/08/16:00) of patrol loops with 2–10 min stops, then back to the lot"),
        ("holiday-movement", ScenarioKind.HolidayMovement, "affected vehicles also drive in sealing windows: weekday evenings 18:30–22:30 and weekends 09:00–20:00"),
        ("night-away", ScenarioKind.NightAway, "affected vehicles' trips leaving after 15:30 on a working day end away from the lot; parked there, ignition off, until ~07:30–08:10 next working day"),
        ("unplugged", ScenarioKind.Unplugged, "once a day an affected terminal, a minute into a trip, sends a report with alarm bit 8 (power cut), status offline, then silence for --silent-for"),
        ("backlog", ScenarioKind.Backlog, "once a day an affected terminal, a minute into a trip, goes offline for --backlog-for, stores its reports, then on reconnect sends status online and uploads them in ts order as JSON arrays (≤ 1000 reports, ≤ 64 KiB each)"),
    ];

    public static bool TryParse(string name, out ScenarioKind kind)
    {
        foreach (var scenario in All)
        {
            if (string.Equals(scenario.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                kind = scenario.Kind;
                return true;
            }
        }

        kind = default;
        return false;
    }

    public static string NameOf(ScenarioKind kind) => All.First(s => s.Kind == kind).Name;
}

/// <summary>How vehicles behave.</summary>
/// <param name="Scenario">The scenario the affected vehicles play.</param>
/// <param name="AffectedShare">Share of vehicles that play it (at least one when above zero): every round(1/share)-th vehicle.</param>
/// <param name="SilentFor">How long an unplugged terminal stays silent.</param>
/// <param name="BacklogFor">How long a backlog terminal stays offline.</param>
/// <param name="Continuous">Load mode: every vehicle drives all the time, at any hour, so every report differs.</param>
/// <param name="MeanGapBetweenTrips">Mean time a vehicle waits in its lot inside a trip window before leaving.</param>
/// <param name="LawEnforcementOnDuty">Normal scenario: share of 执法执勤 vehicles on the round-the-clock duty roster.</param>
/// <param name="EmergencyOnDuty">Normal scenario: share of 应急保障 vehicles on the round-the-clock duty roster.</param>
public sealed record BehaviourSettings(
    ScenarioKind Scenario = ScenarioKind.Normal,
    double AffectedShare = 0.1,
    TimeSpan? SilentFor = null,
    TimeSpan? BacklogFor = null,
    bool Continuous = false,
    TimeSpan? MeanGapBetweenTrips = null,
    double LawEnforcementOnDuty = 0.3,
    double EmergencyOnDuty = 0.15)
{
    public static readonly BehaviourSettings Default = new();

    public TimeSpan EffectiveSilentFor => SilentFor ?? TimeSpan.FromMinutes(20);

    public TimeSpan EffectiveBacklogFor => BacklogFor ?? TimeSpan.FromMinutes(10);

    public TimeSpan EffectiveMeanGap => MeanGapBetweenTrips ?? TimeSpan.FromMinutes(100);

    /// <summary>Whether the vehicle at <paramref name="index"/> (its position in the run) plays the scenario.</summary>
    public bool IsAffected(int index)
    {
        if (Scenario == ScenarioKind.Normal || AffectedShare <= 0)
        {
            return false;
        }

        var stride = Math.Max(1, (int)Math.Round(1 / Math.Min(1, AffectedShare)));
        return index % stride == 0;
    }

    /// <summary>
    /// Whether a vehicle patrols in shifts rather than making office trips: only in the normal scenario, and drawn from
    /// the seed and the vehicle id, so the roster stays the same however the fleet is ordered or restarted.
    /// </summary>
    public bool IsOnDutyRoster(VehicleProfile profile, int seed)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (Scenario != ScenarioKind.Normal || Continuous)
        {
            return false;
        }

        var share = profile.Category switch
        {
            VehicleCategories.LawEnforcement => LawEnforcementOnDuty,
            VehicleCategories.Emergency => EmergencyOnDuty,
            _ => 0,
        };
        return share > 0 && StableHash.Combine(seed, $"duty/{profile.VehicleId}") % 10_000 < share * 10_000;
    }
}

/// <summary>
/// Asia/Shanghai civil time. China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact and
/// needs no time-zone database on the host.
/// </summary>
public static class ShanghaiTime
{
    public static readonly TimeSpan Offset = TimeSpan.FromHours(8);

    public static DateTime Local(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs).ToOffset(Offset).DateTime;

    public static long ToUnixMs(DateTime local) => new DateTimeOffset(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), Offset).ToUnixTimeMilliseconds();

    /// <summary>Monday to Friday. The official holiday calendar lives in the platform's database, not here.</summary>
    public static bool IsWorkingDay(DateTime local) => local.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday);

    /// <summary>The next working day's <paramref name="timeOfDay"/> strictly after <paramref name="local"/>'s date.</summary>
    public static DateTime NextWorkingDayAt(DateTime local, TimeSpan timeOfDay)
    {
        var day = local.Date.AddDays(1);
        while (!IsWorkingDay(day))
        {
            day = day.AddDays(1);
        }

        return day + timeOfDay;
    }
}
