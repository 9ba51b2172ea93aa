using System.Buffers;

namespace Fleet.Mqtt.Protocol;

/// <summary>Encodes control packets exactly as the specification lays them out.</summary>
public static class MqttPacketEncoder
{
    public static void Encode(IBufferWriter<byte> writer, MqttPacket packet, MqttProtocolVersion version)
        => throw new NotImplementedException();

    /// <summary>Hot path: a PUBACK with reason Success, written without allocating (identical bytes in 3.1.1 and 5.0).</summary>
    public static void WritePubAck(IBufferWriter<byte> writer, ushort packetId)
        => throw new NotImplementedException();

    /// <summary>Hot path: a PUBLISH written straight from spans, without a <see cref="PublishPacket"/> object.</summary>
    public static void WritePublish(IBufferWriter<byte> writer, ReadOnlySpan<byte> topicUtf8, ReadOnlySpan<byte> payload, MqttQualityOfService qos, bool retain, bool dup, ushort packetId, MqttProtocolVersion version)
        => throw new NotImplementedException();
}
