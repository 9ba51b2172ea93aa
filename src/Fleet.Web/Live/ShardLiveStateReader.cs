using System.Diagnostics.CodeAnalysis;
using Fleet.Silo.Grains;
using Fleet.Silo.Shards;
using Fleet.Web.Vehicles;

namespace Fleet.Web.Live;

/// <summary>The web's <see cref="ILiveStateReader"/> over the co-hosted shard host's read model.</summary>
public sealed class ShardLiveStateReader(ShardHost shards) : ILiveStateReader
{
    public IEnumerable<LiveVehicle> All => shards.EnumerateLiveStates().Select(ToLiveVehicle);

    public bool TryGet(long vehicleId, [MaybeNullWhen(false)] out LiveVehicle state)
    {
        if (shards.TryGetLiveState(vehicleId, out var live))
        {
            state = ToLiveVehicle(live);
            return true;
        }

        state = null;
        return false;
    }

    private static LiveVehicle ToLiveVehicle(VehicleLiveState state) => new(
        state.VehicleId,
        state.Ts,
        state.Lat,
        state.Lon,
        state.Spd,
        state.Hdg,
        state.Acc,
        state.Odo,
        state.Motion switch
        {
            MotionState.Moving => LiveState.Moving,
            MotionState.Parked => LiveState.Parked,
            _ => LiveState.Stopped,
        },
        state.Online);
}
