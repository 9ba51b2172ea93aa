using Fleet.Core.Roads;

namespace Fleet.Simulator.Fleet;

/// <summary>Whether a vehicle reports <c>fuel</c> or <c>soc</c>.</summary>
public enum EnergyKind : byte
{
    Fuel,
    Electric,
}

/// <summary>The registry's vehicle categories (vehicles.category) that change how a vehicle is used.</summary>
public static class VehicleCategories
{
    /// <summary>一般公务用车: office trips on working days.</summary>
    public const string General = "general";

    /// <summary>执法执勤用车: patrols around the clock when on duty.</summary>
    public const string LawEnforcement = "law_enforcement";

    /// <summary>应急保障用车: on call around the clock.</summary>
    public const string Emergency = "emergency";
}

/// <summary>What the simulator knows of one vehicle: its terminal's credentials, its region, home lot and category.</summary>
public sealed record VehicleProfile(
    string TerminalId,
    string Password,
    long VehicleId,
    string Plate,
    RegionInfo Region,
    GeoPoint HomeLot,
    EnergyKind Energy,
    string Category = VehicleCategories.General);

/// <summary>One terminal from the demo credentials file.</summary>
public sealed record TerminalCredential(string TerminalId, string Password, long VehicleId, string Plate);

/// <summary>What a plate alone tells, when no registry is given.</summary>
public static class Plates
{
    /// <summary>新能源 plates carry D (battery-electric) or F (plug-in, fuel cell) right after the prefix, with five digits after it.</summary>
    public static EnergyKind EnergyOf(string plate) =>
        plate.Length == 8 && plate[2] is 'D' or 'F' && char.IsAsciiDigit(plate[^1]) ? EnergyKind.Electric : EnergyKind.Fuel;

    /// <summary>Police plates end in 警; everything else counts as an ordinary official car.</summary>
    public static string CategoryOf(string plate) =>
        plate.EndsWith('警') ? VehicleCategories.LawEnforcement : VehicleCategories.General;
}
