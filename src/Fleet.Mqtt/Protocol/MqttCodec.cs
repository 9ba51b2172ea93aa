using System.Buffers;

namespace Fleet.Mqtt.Protocol;

/// <summary>Fixed header of a control packet (5.0 §2.1.1): type, flags, and the length of what follows.</summary>
public readonly record struct MqttFixedHeader(MqttPacketType Type, byte Flags, int RemainingLength, int HeaderLength)
{
    public int TotalLength => HeaderLength + RemainingLength;
}

/// <summary>
/// A received PUBLISH decoded without allocating: topic and payload are slices of the receive buffer,
/// valid only until that buffer is advanced. The client copies what it keeps into pooled batch storage.
/// </summary>
public readonly ref struct MqttPublishView
{
    public MqttPublishView(ReadOnlySpan<byte> topicUtf8, ReadOnlySpan<byte> payload, MqttQualityOfService qos, bool retain, bool dup, ushort packetId, ushort topicAlias)
    {
        TopicUtf8 = topicUtf8;
        Payload = payload;
        QoS = qos;
        Retain = retain;
        Dup = dup;
        PacketId = packetId;
        TopicAlias = topicAlias;
    }

    public ReadOnlySpan<byte> TopicUtf8 { get; }
    public ReadOnlySpan<byte> Payload { get; }
    public MqttQualityOfService QoS { get; }
    public bool Retain { get; }
    public bool Dup { get; }
    public ushort PacketId { get; }

    /// <summary>5.0 Topic Alias, or 0 when absent. An empty topic with an alias means "use the alias".</summary>
    public ushort TopicAlias { get; }
}
