using System.Text;
using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Tests.Protocol;

/// <summary>MQTT 3.1.1: the encoder produces the hand-written bytes in <see cref="SpecWire.V311"/>, and decoding them gives the fields.</summary>
public sealed class MqttWireBytesV311Tests
{
    private const MqttProtocolVersion V = MqttProtocolVersion.V311;

    private static ConnectPacket FullConnect => new("dev-1", 60, CleanStart: true)
    {
        ProtocolVersion = V,
        Username = "u1",
        Password = "pw"u8.ToArray(),
        Will = new MqttWill("s/dev-1", "offline"u8.ToArray()) { QoS = MqttQualityOfService.AtLeastOnce, Retain = true },
    };

    [Fact]
    public void Connect_v311_with_username_password_and_will_encodes_to_spec_bytes()
        => Assert.Equal(SpecWire.V311.ConnectFull, Wire.Encode(FullConnect, V));

    [Fact]
    public void Connect_v311_with_username_password_and_will_decodes_every_field()
    {
        var packet = Wire.Decode<ConnectPacket>(SpecWire.V311.ConnectFull, V);
        Assert.Equal(MqttProtocolVersion.V311, packet.ProtocolVersion);
        Assert.Equal("dev-1", packet.ClientId);
        Assert.Equal(60, packet.KeepAliveSeconds);
        Assert.True(packet.CleanStart);
        Assert.Equal("u1", packet.Username);
        Assert.Equal("pw"u8.ToArray(), packet.Password!.Value.ToArray());
        Assert.NotNull(packet.Will);
        Assert.Equal("s/dev-1", packet.Will.Topic);
        Assert.Equal("offline"u8.ToArray(), packet.Will.Payload.ToArray());
        Assert.Equal(MqttQualityOfService.AtLeastOnce, packet.Will.QoS);
        Assert.True(packet.Will.Retain);
        Assert.Null(packet.Will.DelayInterval);
        Assert.Null(packet.SessionExpiryInterval);
    }

    [Fact]
    public void Connect_v311_clean_session_only_encodes_and_decodes_to_spec_bytes()
    {
        var packet = new ConnectPacket("c", 30, CleanStart: true) { ProtocolVersion = V };
        Assert.Equal(SpecWire.V311.ConnectMinimal, Wire.Encode(packet, V));

        var decoded = Wire.Decode<ConnectPacket>(SpecWire.V311.ConnectMinimal, V);
        Assert.Equal("c", decoded.ClientId);
        Assert.Equal(30, decoded.KeepAliveSeconds);
        Assert.True(decoded.CleanStart);
        Assert.Null(decoded.Username);
        Assert.Null(decoded.Password);
        Assert.Null(decoded.Will);
    }

    [Fact]
    public void Connect_v311_without_clean_session_clears_bit_1()
    {
        var bytes = Wire.Encode(new ConnectPacket("c", 30, CleanStart: false) { ProtocolVersion = V }, V);
        Assert.Equal(0x00, bytes[9]); // connect flags byte, after 0x10 rl 00 04 MQTT 04
        Assert.False(Wire.Decode<ConnectPacket>(bytes, V).CleanStart);
    }

    [Fact]
    public void Connect_v311_password_without_username_is_rejected_by_the_encoder()
    {
        var packet = new ConnectPacket("c", 30, true) { ProtocolVersion = V, Password = "pw"u8.ToArray() };
        var error = Assert.Throws<ArgumentException>(() => Wire.Encode(packet, V));
        Assert.Contains("MQTT-3.1.2-22", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Connect_v311_password_without_username_is_a_protocol_error_when_decoded()
    {
        var wire = Wire.Bytes(0x10, 0x11, 0x00, 0x04, "MQTT", 0x04, 0x42, 0x00, 0x1E, 0x00, 0x01, "c", 0x00, 0x02, "pw");
        Wire.AssertDecodeFails("MQTT-3.1.2-22", wire, V);
    }

    [Fact]
    public void ConnAck_v311_session_present_accepted_matches_spec_bytes()
    {
        Assert.Equal(SpecWire.V311.ConnAckSessionPresent, Wire.Encode(new ConnAckPacket(true, 0), V));
        var packet = Wire.Decode<ConnAckPacket>(SpecWire.V311.ConnAckSessionPresent, V);
        Assert.True(packet.SessionPresent);
        Assert.Equal(0, packet.ReasonCode);
    }

    [Fact]
    public void ConnAck_v311_not_authorized_return_code_matches_spec_bytes()
    {
        Assert.Equal(SpecWire.V311.ConnAckNotAuthorized, Wire.Encode(new ConnAckPacket(false, 5), V));
        var packet = Wire.Decode<ConnAckPacket>(SpecWire.V311.ConnAckNotAuthorized, V);
        Assert.False(packet.SessionPresent);
        Assert.Equal(5, packet.ReasonCode);
    }

    [Fact]
    public void Publish_v311_qos0_matches_spec_bytes()
    {
        Assert.Equal(SpecWire.V311.PublishQoS0, Wire.Encode(new PublishPacket("a/b", "hi"u8.ToArray()), V));
        var packet = Wire.Decode<PublishPacket>(SpecWire.V311.PublishQoS0, V);
        Assert.Equal("a/b", packet.Topic);
        Assert.Equal("hi"u8.ToArray(), packet.Payload.ToArray());
        Assert.Equal(MqttQualityOfService.AtMostOnce, packet.QoS);
        Assert.False(packet.Dup);
        Assert.False(packet.Retain);
        Assert.Equal(0, packet.PacketId);
    }

    [Fact]
    public void Publish_v311_qos1_with_dup_retain_and_packet_id_matches_spec_bytes()
    {
        var packet = new PublishPacket("a/b", "hi"u8.ToArray()) { QoS = MqttQualityOfService.AtLeastOnce, Dup = true, Retain = true, PacketId = 10 };
        Assert.Equal(SpecWire.V311.PublishQoS1DupRetain, Wire.Encode(packet, V));

        var decoded = Wire.Decode<PublishPacket>(SpecWire.V311.PublishQoS1DupRetain, V);
        Assert.Equal(MqttQualityOfService.AtLeastOnce, decoded.QoS);
        Assert.True(decoded.Dup);
        Assert.True(decoded.Retain);
        Assert.Equal(10, decoded.PacketId);
        Assert.Equal("a/b", decoded.Topic);
        Assert.Equal("hi"u8.ToArray(), decoded.Payload.ToArray());
    }

    [Fact]
    public void Publish_v311_hot_path_writer_matches_spec_bytes()
    {
        var writer = new System.Buffers.ArrayBufferWriter<byte>();
        MqttPacketEncoder.WritePublish(writer, "a/b"u8, "hi"u8, MqttQualityOfService.AtLeastOnce, retain: true, dup: true, packetId: 10, V);
        Assert.Equal(SpecWire.V311.PublishQoS1DupRetain, writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Publish_v311_view_decodes_topic_and_payload_as_slices()
    {
        var wire = SpecWire.V311.PublishQoS1DupRetain;
        var header = Wire.ReadHeader(wire);
        var view = MqttPacketDecoder.DecodePublish(header, wire.AsSpan(header.HeaderLength), V);
        Assert.Equal("a/b", Encoding.UTF8.GetString(view.TopicUtf8));
        Assert.Equal("hi", Encoding.UTF8.GetString(view.Payload));
        Assert.Equal(10, view.PacketId);
        Assert.True(view.Dup);
        Assert.True(view.Retain);
        Assert.Equal(0, view.TopicAlias);
    }

    [Fact]
    public void PubAck_v311_matches_spec_bytes()
    {
        Assert.Equal(SpecWire.V311.PubAck, Wire.Encode(new PubAckPacket(10), V));
        Assert.Equal(10, Wire.Decode<PubAckPacket>(SpecWire.V311.PubAck, V).PacketId);
    }

    [Fact]
    public void PubAck_v311_cannot_carry_a_reason_code()
        => Assert.Throws<ArgumentException>(() => Wire.Encode(new PubAckPacket(10, 0x87), V));

    [Fact]
    public void Subscribe_v311_with_shared_subscription_filter_matches_spec_bytes()
    {
        var packet = new SubscribePacket(1,
        [
            new MqttSubscription("fleet/v1/+/telemetry", MqttQualityOfService.AtLeastOnce),
            new MqttSubscription("$share/gw/fleet/#", MqttQualityOfService.AtMostOnce),
        ]);
        Assert.Equal(SpecWire.V311.Subscribe, Wire.Encode(packet, V));

        var decoded = Wire.Decode<SubscribePacket>(SpecWire.V311.Subscribe, V);
        Assert.Equal(1, decoded.PacketId);
        Assert.Equal(2, decoded.Subscriptions.Count);
        Assert.Equal("fleet/v1/+/telemetry", decoded.Subscriptions[0].TopicFilter);
        Assert.Equal(MqttQualityOfService.AtLeastOnce, decoded.Subscriptions[0].MaximumQoS);
        Assert.Equal("$share/gw/fleet/#", decoded.Subscriptions[1].TopicFilter);
        Assert.Equal(MqttQualityOfService.AtMostOnce, decoded.Subscriptions[1].MaximumQoS);
    }

    [Fact]
    public void SubAck_v311_with_granted_qos_and_failure_matches_spec_bytes()
    {
        Assert.Equal(SpecWire.V311.SubAck, Wire.Encode(new SubAckPacket(1, [0x01, 0x80]), V));
        var decoded = Wire.Decode<SubAckPacket>(SpecWire.V311.SubAck, V);
        Assert.Equal(1, decoded.PacketId);
        Assert.Equal(new byte[] { 0x01, 0x80 }, decoded.ReasonCodes);
    }

    [Fact]
    public void Unsubscribe_v311_matches_spec_bytes()
    {
        Assert.Equal(SpecWire.V311.Unsubscribe, Wire.Encode(new UnsubscribePacket(3, ["a/+"]), V));
        var decoded = Wire.Decode<UnsubscribePacket>(SpecWire.V311.Unsubscribe, V);
        Assert.Equal(3, decoded.PacketId);
        Assert.Equal(["a/+"], decoded.TopicFilters);
    }

    [Fact]
    public void UnsubAck_v311_matches_spec_bytes_and_has_no_reason_codes()
    {
        Assert.Equal(SpecWire.V311.UnsubAck, Wire.Encode(new UnsubAckPacket(3, []), V));
        var decoded = Wire.Decode<UnsubAckPacket>(SpecWire.V311.UnsubAck, V);
        Assert.Equal(3, decoded.PacketId);
        Assert.Empty(decoded.ReasonCodes);
    }

    [Fact]
    public void PingReq_PingResp_and_Disconnect_v311_are_two_bytes()
    {
        Assert.Equal(SpecWire.V311.PingReq, Wire.Encode(PingReqPacket.Instance, V));
        Assert.Equal(SpecWire.V311.PingResp, Wire.Encode(PingRespPacket.Instance, V));
        Assert.Equal(SpecWire.V311.Disconnect, Wire.Encode(new DisconnectPacket(), V));
        Assert.Same(PingReqPacket.Instance, Wire.Decode<PingReqPacket>(SpecWire.V311.PingReq, V));
        Assert.Same(PingRespPacket.Instance, Wire.Decode<PingRespPacket>(SpecWire.V311.PingResp, V));
        Assert.Equal(0, Wire.Decode<DisconnectPacket>(SpecWire.V311.Disconnect, V).ReasonCode);
    }

    [Fact]
    public void Disconnect_v311_cannot_carry_a_reason_code()
        => Assert.Throws<ArgumentException>(() => Wire.Encode(new DisconnectPacket(0x04), V));
}
