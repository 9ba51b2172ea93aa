using System.Diagnostics.CodeAnalysis;

namespace Fleet.Web.Vehicles;

/// <summary>What a vehicle is doing now, as the map and the filters name it.</summary>
public enum LiveState
{
    Moving,
    Stopped,
    Parked,

    /// <summary>The terminal is not connected (or silent past the timeout), whatever the last motion was.</summary>
    Offline,
}

/// <summary>The live picture of one vehicle, from the shard host.</summary>
/// <param name="Ts">Event time of the newest fix, epoch ms UTC.</param>
/// <param name="Spd">km/h; null when the terminal does not report it.</param>
/// <param name="Hdg">0–359; null when not reported.</param>
/// <param name="Odo">km; null when not reported.</param>
/// <param name="State">The motion state while online; use <see cref="EffectiveState"/> for display and filtering.</param>
public sealed record LiveVehicle(
    long VehicleId,
    long Ts,
    double Lat,
    double Lon,
    float? Spd,
    short? Hdg,
    bool? Acc,
    double? Odo,
    LiveState State,
    bool Online)
{
    /// <summary>Offline wins over the last known motion: a silent vehicle is not "moving".</summary>
    public LiveState EffectiveState => Online ? State : LiveState.Offline;
}

/// <summary>
/// Read access to the live vehicle states. The shard host owns them; Fleet.Web only reads, so that nothing here
/// assumes the states live in this process (with scale-out, an implementation may read a replicated view).
/// Implementations must be thread-safe and cheap: the vehicle list calls <see cref="TryGet"/> per row.
/// </summary>
public interface ILiveStateReader
{
    bool TryGet(long vehicleId, [MaybeNullWhen(false)] out LiveVehicle state);

    /// <summary>A snapshot of every known live state (a vehicle appears at most once).</summary>
    IEnumerable<LiveVehicle> All { get; }
}

/// <summary>Knows no live state: the default while no shard host is co-hosted. Every vehicle reads as unknown.</summary>
public sealed class EmptyLiveStateReader : ILiveStateReader
{
    public bool TryGet(long vehicleId, [MaybeNullWhen(false)] out LiveVehicle state)
    {
        state = null;
        return false;
    }

    public IEnumerable<LiveVehicle> All => [];
}

/// <summary>The <c>state</c> query values; "unknown" means no live state at all.</summary>
public static class LiveStateNames
{
    public const string Unknown = "unknown";

    public static string Name(LiveState state) => state switch
    {
        LiveState.Moving => "moving",
        LiveState.Stopped => "stopped",
        LiveState.Parked => "parked",
        _ => "offline",
    };

    /// <summary>Exact lower-case names only (no numbers, unlike Enum.TryParse); null state means "unknown".</summary>
    public static bool TryParse(string value, out LiveState? state)
    {
        state = value switch
        {
            "moving" => LiveState.Moving,
            "stopped" => LiveState.Stopped,
            "parked" => LiveState.Parked,
            "offline" => LiveState.Offline,
            _ => null,
        };
        return state is not null || value == Unknown;
    }
}
