using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Client;

/// <summary>An outstanding SUBSCRIBE or UNSUBSCRIBE, kept encoded so it can be resent after a reconnect.</summary>
internal sealed class PendingRequest : TaskCompletionSource<MqttPacket>
{
    public PendingRequest(ushort packetId, byte[] packet, IReadOnlyList<MqttSubscription>? subscriptions, IReadOnlyList<string>? unsubscriptions, bool isInternal)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        PacketId = packetId;
        Packet = packet;
        Subscriptions = subscriptions;
        Unsubscriptions = unsubscriptions;
        IsInternal = isInternal;
    }

    public ushort PacketId { get; }
    public byte[] Packet { get; }
    public IReadOnlyList<MqttSubscription>? Subscriptions { get; }
    public IReadOnlyList<string>? Unsubscriptions { get; }

    /// <summary>A resubscription the client made itself: nobody awaits it, failures are only logged.</summary>
    public bool IsInternal { get; }
}
