//! Plain domain values. None of these are `Serialize`: every wire shape is a DTO in the face
//! (or native API) that renders it.

pub mod attachment;
pub mod clock;
pub mod idgen;
pub mod ids;
pub mod model;
pub mod search;
pub mod time;

pub use attachment::{Attachment, Chunk, FileRef};
pub use clock::Clock;
pub use idgen::Ids;
pub use ids::{ConversationId, IdRef, MessageId, TenantId, UserId};
pub use model::*;
