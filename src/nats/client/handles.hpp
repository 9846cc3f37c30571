// Owning handles for nats.c objects: a unique_ptr per object type with the
// matching destroy function, so every options, connection, subscription,
// message, JetStream context and KV store is released exactly once.
#pragma once

#include <nats/nats.h>

#include <memory>

namespace uni::nats {

template <class T, void (*Destroy)(T*)>
struct NatsDeleter {
  void operator()(T* object) const noexcept {
    if (object != nullptr) Destroy(object);
  }
};

template <class T, void (*Destroy)(T*)>
using NatsHandle = std::unique_ptr<T, NatsDeleter<T, Destroy>>;

using OptionsHandle = NatsHandle<natsOptions, natsOptions_Destroy>;
using ConnectionHandle = NatsHandle<natsConnection, natsConnection_Destroy>;
using SubscriptionHandle = NatsHandle<natsSubscription, natsSubscription_Destroy>;
using MsgHandle = NatsHandle<natsMsg, natsMsg_Destroy>;
using JsContextHandle = NatsHandle<jsCtx, jsCtx_Destroy>;
using StreamInfoHandle = NatsHandle<jsStreamInfo, jsStreamInfo_Destroy>;
using ConsumerInfoHandle = NatsHandle<jsConsumerInfo, jsConsumerInfo_Destroy>;
using PubAckHandle = NatsHandle<jsPubAck, jsPubAck_Destroy>;
using MetaDataHandle = NatsHandle<jsMsgMetaData, jsMsgMetaData_Destroy>;
using KvStoreHandle = NatsHandle<kvStore, kvStore_Destroy>;
using KvEntryHandle = NatsHandle<kvEntry, kvEntry_Destroy>;
using KvStatusHandle = NatsHandle<kvStatus, kvStatus_Destroy>;

// natsMsgList and kvKeysList are structs held by value whose contents must be
// destroyed; these own one such value.
class MsgList {
 public:
  MsgList() = default;
  ~MsgList() { natsMsgList_Destroy(&list_); }
  MsgList(const MsgList&) = delete;
  MsgList& operator=(const MsgList&) = delete;
  natsMsgList* get() { return &list_; }
  int size() const { return list_.Count; }
  // Hands message i to the caller; the list no longer destroys it.
  MsgHandle take(int i) {
    MsgHandle out(list_.Msgs[i]);
    list_.Msgs[i] = nullptr;
    return out;
  }

 private:
  natsMsgList list_{};
};

class KeysList {
 public:
  KeysList() = default;
  ~KeysList() { kvKeysList_Destroy(&list_); }
  KeysList(const KeysList&) = delete;
  KeysList& operator=(const KeysList&) = delete;
  kvKeysList* get() { return &list_; }
  int size() const { return list_.Count; }
  const char* at(int i) const { return list_.Keys[i]; }

 private:
  kvKeysList list_{};
};

}  // namespace uni::nats
