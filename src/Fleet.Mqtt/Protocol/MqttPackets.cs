namespace Fleet.Mqtt.Protocol;

/// <summary>The protocol level byte of CONNECT (3.1.1 §3.1.2.2, 5.0 §3.1.2.2).</summary>
public enum MqttProtocolVersion : byte
{
    V311 = 4,
    V500 = 5,
}

public enum MqttQualityOfService : byte
{
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

/// <summary>Control packet types, 5.0 §2.1.2 (the same values in 3.1.1 §2.2.1; AUTH is 5.0 only).</summary>
public enum MqttPacketType : byte
{
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

public readonly record struct MqttUserProperty(string Name, string Value);

public abstract record MqttPacket
{
    public abstract MqttPacketType Type { get; }
}

public sealed record MqttWill(string Topic, ReadOnlyMemory<byte> Payload)
{
    public MqttQualityOfService QoS { get; init; }
    public bool Retain { get; init; }

    /// <summary>5.0 only: Will Delay Interval in seconds.</summary>
    public uint? DelayInterval { get; init; }
}

public sealed record ConnectPacket(string ClientId, ushort KeepAliveSeconds, bool CleanStart) : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Connect;
    public MqttProtocolVersion ProtocolVersion { get; init; } = MqttProtocolVersion.V500;
    public string? Username { get; init; }
    public ReadOnlyMemory<byte>? Password { get; init; }
    public MqttWill? Will { get; init; }

    // 5.0 properties (§3.1.2.11). Null means "absent", which is not the same as the default value on the wire.
    public uint? SessionExpiryInterval { get; init; }
    public ushort? ReceiveMaximum { get; init; }
    public uint? MaximumPacketSize { get; init; }
    public ushort? TopicAliasMaximum { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

public sealed record ConnAckPacket(bool SessionPresent, byte ReasonCode) : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.ConnAck;

    // 5.0 properties (§3.2.2.3).
    public uint? SessionExpiryInterval { get; init; }
    public ushort? ReceiveMaximum { get; init; }
    public MqttQualityOfService? MaximumQoS { get; init; }
    public bool? RetainAvailable { get; init; }
    public uint? MaximumPacketSize { get; init; }
    public string? AssignedClientIdentifier { get; init; }
    public ushort? TopicAliasMaximum { get; init; }
    public string? ReasonString { get; init; }
    public bool? WildcardSubscriptionAvailable { get; init; }
    public bool? SubscriptionIdentifiersAvailable { get; init; }
    public bool? SharedSubscriptionAvailable { get; init; }
    public ushort? ServerKeepAlive { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

public sealed record PublishPacket(string Topic, ReadOnlyMemory<byte> Payload) : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Publish;
    public MqttQualityOfService QoS { get; init; }
    public bool Retain { get; init; }
    public bool Dup { get; init; }

    /// <summary>Present only for QoS &gt; 0; zero is a protocol error there ([MQTT-2.2.1-3] / [MQTT-2.2.1-3] in 5.0).</summary>
    public ushort PacketId { get; init; }

    // 5.0 properties (§3.3.2.3).
    public byte? PayloadFormatIndicator { get; init; }
    public uint? MessageExpiryInterval { get; init; }
    public ushort? TopicAlias { get; init; }
    public string? ResponseTopic { get; init; }
    public ReadOnlyMemory<byte>? CorrelationData { get; init; }
    public string? ContentType { get; init; }
    public IReadOnlyList<uint> SubscriptionIdentifiers { get; init; } = [];
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

/// <summary>PUBACK. In 3.1.1 only the packet id is on the wire; 5.0 adds a reason code and properties.</summary>
public sealed record PubAckPacket(ushort PacketId, byte ReasonCode = 0) : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.PubAck;
    public string? ReasonString { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

public sealed record MqttSubscription(string TopicFilter, MqttQualityOfService MaximumQoS)
{
    // 5.0 subscription options (§3.8.3.1).
    public bool NoLocal { get; init; }
    public bool RetainAsPublished { get; init; }
    public byte RetainHandling { get; init; }
}

public sealed record SubscribePacket(ushort PacketId, IReadOnlyList<MqttSubscription> Subscriptions) : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Subscribe;
    public uint? SubscriptionIdentifier { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

/// <summary>SUBACK: one return/reason code per requested filter (0x00–0x02 granted QoS, 0x80+ failure).</summary>
public sealed record SubAckPacket(ushort PacketId, IReadOnlyList<byte> ReasonCodes) : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.SubAck;
    public string? ReasonString { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

public sealed record UnsubscribePacket(ushort PacketId, IReadOnlyList<string> TopicFilters) : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Unsubscribe;
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

/// <summary>UNSUBACK. 3.1.1 carries no reason codes (the list is empty); 5.0 carries one per filter.</summary>
public sealed record UnsubAckPacket(ushort PacketId, IReadOnlyList<byte> ReasonCodes) : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.UnsubAck;
    public string? ReasonString { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

public sealed record PingReqPacket : MqttPacket
{
    public static readonly PingReqPacket Instance = new();
    public override MqttPacketType Type => MqttPacketType.PingReq;
}

public sealed record PingRespPacket : MqttPacket
{
    public static readonly PingRespPacket Instance = new();
    public override MqttPacketType Type => MqttPacketType.PingResp;
}

/// <summary>DISCONNECT. 3.1.1 has no body; 5.0 may carry a reason code and properties.</summary>
public sealed record DisconnectPacket(byte ReasonCode = 0) : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Disconnect;
    public uint? SessionExpiryInterval { get; init; }
    public string? ReasonString { get; init; }
    public string? ServerReference { get; init; }
}
